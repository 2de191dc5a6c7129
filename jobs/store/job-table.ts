/**
 * The job table's shape: shared by the CDK stack that creates it on AWS, the local runtime
 * that creates it in dynalite, and the store that queries it.
 */
export const JOB_TABLE = {
  partitionKey: 'id',
  indexes: {
    /** A team's jobs, newest first. */
    byTeam: { name: 'byTeam', partitionKey: 'team', sortKey: 'submittedKey' },
    /** A team's jobs in one state: `GET /jobs?state=`. */
    byTeamState: { name: 'byTeamState', partitionKey: 'teamState', sortKey: 'submittedKey' },
    /**
     * Sparse: only non-terminal jobs carry `activeState`, so the dispatcher reads the live
     * jobs without scanning years of history. Sorted by last update, so a warm dispatcher
     * reads only what changed since its previous round.
     */
    byActiveState: { name: 'byActiveState', partitionKey: 'activeState', sortKey: 'updatedKey' },
  },
} as const;

export type JobIndex = (typeof JOB_TABLE.indexes)[keyof typeof JOB_TABLE.indexes];
