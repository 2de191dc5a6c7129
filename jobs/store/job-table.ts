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
     * jobs without scanning years of history.
     */
    byActiveState: { name: 'byActiveState', partitionKey: 'activeState', sortKey: 'submittedKey' },
  },
} as const;

export type JobIndex = (typeof JOB_TABLE.indexes)[keyof typeof JOB_TABLE.indexes];
