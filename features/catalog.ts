import type { RegisteredService, RegisteredView, Registry } from './definitions/registry';
import type { EntityDefinition } from './definitions/schema';
import registryJson from './registry.json';

/** The committed registry artifact (features/registry.json), as the runtime and Lambdas read it. */
export const REGISTRY = registryJson as unknown as Registry;

/** A feature view as the read and write paths use it: features indexed, TTL in microseconds. */
export interface ServedView {
  readonly definition: RegisteredView;
  readonly name: string;
  readonly entity: EntityDefinition;
  readonly version: string;
  readonly featureIndex: ReadonlyMap<string, number>;
  /** 0: never outside max age. */
  readonly ttlUs: number;
  readonly cacheTtlMs: number;
}

/** Lookups over one registry: views, services and entities by name. */
export class FeatureCatalog {
  readonly views: ReadonlyMap<string, ServedView>;
  readonly services: ReadonlyMap<string, RegisteredService>;
  readonly entities: ReadonlyMap<string, EntityDefinition>;

  constructor(readonly registry: Registry = REGISTRY) {
    this.entities = new Map(registry.entities.map((e) => [e.name, e]));
    this.views = new Map(
      registry.featureViews.map((view) => [
        view.name,
        {
          definition: view,
          name: view.name,
          entity: this.entities.get(view.entity)!,
          version: view.version,
          featureIndex: new Map(view.features.map((f, i) => [f.name, i])),
          ttlUs: view.ttlSeconds * 1_000_000,
          cacheTtlMs: view.cacheTtlSeconds * 1000,
        },
      ]),
    );
    this.services = new Map(registry.featureServices.map((s) => [s.name, s]));
  }

  /** Services a team may read (and whose views it may push to). */
  servicesOf(team: string): RegisteredService[] {
    return [...this.services.values()].filter((s) => s.teams.includes(team));
  }

  /** May `team` read or write `view`: it is in some service the team is granted. */
  teamMayUseView(team: string, view: string): boolean {
    return this.servicesOf(team).some((s) => s.views.some((ref) => ref.view === view));
  }
}
