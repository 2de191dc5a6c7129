import type { Context } from 'hono';
import type { EnvironmentConfig } from '../config/schema';

/** Finds the caller's team, or undefined when the caller is not a member of any team. */
export type TeamResolver = (c: Context) => string | undefined;

export const LOCAL_TEAM_HEADER = 'X-Drivetrain-Team';

/**
 * Local mode only: the team is whatever the `X-Drivetrain-Team` header says, if it names a
 * configured team. There is no authentication on one machine; never use this behind API Gateway.
 */
export function localHeaderTeam(environment: EnvironmentConfig): TeamResolver {
  const teams = new Set(environment.teams.map((t) => t.name));
  return (c) => {
    const team = c.req.header(LOCAL_TEAM_HEADER);
    return team && teams.has(team) ? team : undefined;
  };
}

interface ApiGatewayIdentity {
  readonly userArn?: string | null;
}

/** A role listed under more than one team: the config is refused rather than guessed at. */
export class AmbiguousPrincipal extends Error {
  constructor(
    readonly principal: string,
    readonly teams: readonly string[],
  ) {
    super(
      `teams.principals: ${principal} is listed under teams ${teams.join(' and ')}; a role may act for one team`,
    );
    this.name = 'AmbiguousPrincipal';
  }
}

/**
 * Behind API Gateway with IAM auth: the team is looked up from the SigV4-authenticated
 * principal (the role behind an assumed-role session) in the environment's team config.
 */
export function iamPrincipalTeam(environment: EnvironmentConfig): TeamResolver {
  const byRole = new Map<string, string>();
  for (const team of environment.teams) {
    for (const principal of team.principals) {
      const role = roleKey(principal);
      if (!role) continue;
      const other = byRole.get(role);
      // One caller, one team: otherwise whichever team came last would silently win.
      if (other !== undefined && other !== team.name)
        throw new AmbiguousPrincipal(principal, [other, team.name]);
      byRole.set(role, team.name);
    }
  }
  return (c) => {
    const event = (c.env as { event?: { requestContext?: { identity?: ApiGatewayIdentity } } } | undefined)
      ?.event;
    const role = roleKey(event?.requestContext?.identity?.userArn ?? '');
    return role ? byRole.get(role) : undefined;
  };
}

/**
 * `<account>/<role name>` for a role ARN (with or without a path) or for an assumed-role
 * session ARN, which names the role but not its path.
 */
export function roleKey(arn: string): string | undefined {
  const role = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[^/]+\/)*([^/]+)$/.exec(arn);
  if (role) return `${role[1]}/${role[2]}`;
  const session = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn);
  return session ? `${session[1]}/${session[2]}` : undefined;
}
