import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import { BatchFairsharePolicy } from '../../simulator/baselines/batch-fairshare';
import { FifoPolicy } from '../../simulator/baselines/fifo';
import { KueuePolicy } from '../../simulator/baselines/kueue';
import { SlurmPolicy } from '../../simulator/baselines/slurm';
import { StrictPriorityPolicy } from '../../simulator/baselines/strict-priority';
import { DEFAULT_SIZING, type SizedCluster, sizeCluster } from '../../simulator/cluster-sizing';
import { simulate } from '../../simulator/engine';
import { jainIndex, maxMinFairShares } from '../../simulator/fairness';
import { metricsOf } from '../../simulator/metrics';
import { syntheticTraceCsv } from '../../simulator/synthetic-trace';
import { parseTrace, parseTraceFile, readTrace, summarizeTrace } from '../../simulator/trace';
import {
  classFor,
  DEFAULT_WORKLOAD_RULE,
  toWorkload,
  USER_RUNTIME_LIMITS_S,
  userEstimate,
} from '../../simulator/workload';

const PHILLY = new URL('../../../shared/data/traces/philly.csv', import.meta.url).pathname;
const SLICE = 2000;

/** The replay settings every test here uses, on a sized cluster. */
function simulationConfig(cluster: SizedCluster) {
  return { pools: cluster.pools, teams: cluster.teams, checkpointIntervalS: 1800, restartOverheadS: 120 };
}

function sliceSetup() {
  const records = readTrace(PHILLY).slice(0, SLICE);
  const trace = summarizeTrace(records);
  const cluster = sizeCluster(trace, [...new Set(records.map((r) => r.cluster))], DEFAULT_WORKLOAD_RULE, {
    ...DEFAULT_SIZING,
    spotShare: 0.5,
  });
  const config = simulationConfig(cluster);
  return {
    records,
    trace,
    cluster,
    config,
    workload: toWorkload(records, { ...DEFAULT_WORKLOAD_RULE, node: cluster.node }),
  };
}

describe('trace reading', () => {
  test('GIVEN a Philly-format CSV WHEN parsed THEN rows come back in submit order as UTC seconds', () => {
    const csv =
      'timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,1,66.0,a\n2017-10-09 06:13:03,10,2,20,b\n';
    const records = parseTrace(csv);
    expect(records.map((r) => r.row)).toEqual([1, 0]);
    expect(records[1]?.submitTime).toBe(Date.UTC(2017, 9, 9, 7, 1, 55) / 1000);
  });

  test('GIVEN a CSV without the cluster column WHEN parsed THEN it is rejected', () => {
    expect(() => parseTrace('timestamp,duration,num_gpus,gpu_time\n')).toThrow(/cluster/);
  });

  test('GIVEN a Helios cluster_log.csv WHEN parsed THEN its GPU jobs come back per virtual cluster and its CPU jobs are counted', () => {
    // The three example rows of HeliosData's README, plus a CPU-only job.
    const csv = [
      'job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue',
      '1425511,uXBbc,vcJkd,1,1,1,COMPLETED,2020-06-09 18:41:01,2020-06-09 18:41:01,2020-06-10 04:55:09,36848,0',
      '1425512,uVMrF,vchbv,4,16,1,FAILED,2020-06-09 18:41:27,2020-06-09 18:41:27,2020-06-09 18:45:36,249,0',
      '1425514,uVMrF,vchbv,0,8,1,COMPLETED,2020-06-09 18:41:28,2020-06-09 18:41:30,2020-06-09 18:45:30,240,2',
      '1425513,uzqls,vcpDC,1,1,1,CANCELLED,2020-06-09 18:41:28,2020-06-09 18:41:28,2020-06-17 14:15:21,675233,0',
    ].join('\n');
    const parsed = parseTraceFile(csv);
    expect(parsed.format).toBe('helios');
    expect(parsed.cpuOnlyRows).toBe(1);
    expect(parsed.records.map((r) => [r.row, r.cluster, r.gpus, r.durationS])).toEqual([
      [0, 'vcJkd', 1, 36848],
      [1, 'vchbv', 4, 249],
      [3, 'vcpDC', 1, 675233],
    ]);
    expect(parsed.records[0]?.submitTime).toBe(Date.UTC(2020, 5, 9, 18, 41, 1) / 1000);
  });

  test("GIVEN a row of neither format's shape WHEN parsed THEN the error names the row", () => {
    const helios = 'job_id,vc,gpu_num,submit_time,duration\n1,vcA,2,not a time,10\n';
    expect(() => parseTrace(helios)).toThrow(/row 2 is malformed/);
    const philly = 'timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,0,0,a\n';
    expect(() => parseTrace(philly)).toThrow(/row 2 asks for no GPU/);
    expect(() => parseTrace('submit_time,duration\n')).toThrow(/Helios format/);
  });
});

describe('workload rule', () => {
  test('GIVEN the default seed WHEN classes are drawn for many rows THEN the mix matches the rule', () => {
    const counts = { critical: 0, standard: 0, preemptible: 0 };
    for (let row = 0; row < 20_000; row++) counts[classFor(row, DEFAULT_WORKLOAD_RULE)]++;
    expect(counts.critical / 20_000).toBeCloseTo(0.1, 1);
    expect(counts.preemptible / 20_000).toBeCloseTo(0.3, 1);
  });
});

describe('fairness measures', () => {
  test('GIVEN one team asking little WHEN capacity is split max-min fair THEN the rest is shared evenly', () => {
    const shares = maxMinFairShares(
      10,
      new Map([
        ['a', 2],
        ['b', 100],
        ['c', 100],
      ]),
      new Map(),
    );
    expect(Object.fromEntries(shares)).toEqual({ a: 2, b: 4, c: 4 });
  });

  test('GIVEN equal and skewed allocations WHEN Jain is computed THEN it is 1 and 1/n', () => {
    expect(jainIndex([3, 3, 3])).toBe(1);
    expect(jainIndex([1, 0, 0, 0])).toBe(0.25);
  });
});

describe('replay of a slice of the Philly trace', () => {
  const setup = sliceSetup();
  const policies = [
    new FifoPolicy(),
    new StrictPriorityPolicy(),
    new BatchFairsharePolicy({ shareDecaySeconds: 86_400, computeReservation: 0, weightFactors: {} }),
    new DrivetrainPolicy(),
  ];

  test.each(policies.map((p) => [p.name, p] as const))(
    'GIVEN %s WHEN the slice is replayed THEN every job completes with all its work done',
    (_, policy) => {
      const result = simulate(setup.workload, policy, setup.config);
      expect(result.outcomes).toHaveLength(SLICE);
      expect(result.usefulGpuS).toBeCloseTo(setup.trace.gpuTimeS, 0);
      const duration = new Map(setup.workload.map((w) => [w.job.id, w.durationS]));
      for (const outcome of result.outcomes) {
        expect(outcome.finishTime - outcome.submitTime).toBeGreaterThanOrEqual(duration.get(outcome.id)!);
        expect(outcome.waitS).toBeGreaterThanOrEqual(0);
      }
      const metrics = metricsOf(result);
      expect(metrics.utilization).toBeGreaterThan(0);
      expect(metrics.utilization).toBeLessThanOrEqual(1);
    },
  );

  test('GIVEN a fixed seed WHEN the slice is replayed twice THEN the results are identical', () => {
    const first = metricsOf(simulate(setup.workload, new DrivetrainPolicy(), setup.config));
    const second = metricsOf(simulate(sliceSetup().workload, new DrivetrainPolicy(), setup.config));
    expect(second).toEqual(first);
  });
});

describe('traces this repository does not hold', () => {
  test.each([60, 3000])(
    'GIVEN a synthetic CSV of %i jobs WHEN read, sized and replayed THEN load is in range and every policy completes it',
    (jobs) => {
      const dir = mkdtempSync(join(tmpdir(), 'trace-'));
      const path = join(dir, 'synthetic.csv');
      writeFileSync(path, syntheticTraceCsv({ jobs, seed: 7, teams: 12, meanInterarrivalS: 120 }));
      const records = readTrace(path);
      const trace = summarizeTrace(records);
      const cluster = sizeCluster(trace, [...new Set(records.map((r) => r.cluster))], DEFAULT_WORKLOAD_RULE, {
        ...DEFAULT_SIZING,
        spotShare: 0.5,
      });
      expect(cluster.loadInRange).toBe(true);
      expect(cluster.offeredLoad).toBeGreaterThanOrEqual(DEFAULT_SIZING.loadRange[0]);
      expect(cluster.offeredLoad).toBeLessThanOrEqual(DEFAULT_SIZING.loadRange[1]);
      const workload = toWorkload(records, { ...DEFAULT_WORKLOAD_RULE, node: cluster.node });
      const config = simulationConfig(cluster);
      for (const policy of [
        new FifoPolicy(),
        new StrictPriorityPolicy(),
        new SlurmPolicy(),
        new KueuePolicy(),
        new BatchFairsharePolicy({ shareDecaySeconds: 86_400, computeReservation: 0, weightFactors: {} }),
        new DrivetrainPolicy(),
      ]) {
        const result = simulate(workload, policy, config);
        expect(result.outcomes).toHaveLength(jobs);
        expect(result.usefulGpuS).toBeCloseTo(trace.gpuTimeS, 0);
      }
    },
  );
});

describe('cluster sizing', () => {
  test('GIVEN a short trace whose largest job is most of its GPU-time WHEN sized with spot THEN the on-demand pool alone holds that job and every policy starts it', () => {
    // Twelve 1-GPU hours and one 128-GPU job: load alone sizes a small cluster, split in two.
    const rows = Array.from(
      { length: 12 },
      (_, n) => `2017-10-09 ${String(n).padStart(2, '0')}:00:00,3600,1,3600,a`,
    );
    rows.push('2017-10-09 06:30:00,1800,128,230400,b');
    const records = parseTrace(`timestamp,duration,num_gpus,gpu_time,cluster\n${rows.join('\n')}\n`);
    const trace = summarizeTrace(records);
    const cluster = sizeCluster(trace, ['a', 'b'], DEFAULT_WORKLOAD_RULE, {
      ...DEFAULT_SIZING,
      spotShare: 0.5,
    });
    const onDemand = cluster.pools.find((pool) => pool.capacityType === 'on-demand');
    expect(onDemand).toBeDefined();
    expect((onDemand?.nodeCount ?? 0) * cluster.node.gpus).toBeGreaterThanOrEqual(trace.maxGpus);
    expect(cluster.pools.some((pool) => pool.capacityType === 'spot')).toBe(true);
    const workload = toWorkload(records, { ...DEFAULT_WORKLOAD_RULE, node: cluster.node });
    const config = simulationConfig(cluster);
    for (const policy of [new SlurmPolicy(), new KueuePolicy(), new DrivetrainPolicy()]) {
      expect(simulate(workload, policy, config).outcomes).toHaveLength(records.length);
    }
  });
});

describe('user runtime estimates', () => {
  test('GIVEN any duration and draw WHEN the user estimate is made THEN it is a coarse limit that covers the duration', () => {
    for (const durationS of [1, 59, 3600, 3601, 20_000, 86_400, 6 * 86_400, 8 * 86_400]) {
      for (const draw of [0, 0.3, 0.999]) {
        const estimate = userEstimate(durationS, draw);
        expect(estimate).toBeGreaterThanOrEqual(durationS);
        if (durationS <= 7 * 86_400) expect(USER_RUNTIME_LIMITS_S).toContain(estimate);
      }
    }
    // An accurate user asks for the next limit up; a 20-fold overestimate asks for much more.
    expect(userEstimate(1800, 0.999)).toBe(3600);
    expect(userEstimate(1800, 0)).toBe(86_400);
  });

  test('GIVEN the perfect-estimate rule WHEN jobs are built THEN each limit is its true duration', () => {
    const records = parseTrace(
      'timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.5,1,66.5,a\n',
    );
    const [workload] = toWorkload(records, { ...DEFAULT_WORKLOAD_RULE, estimates: 'perfect' });
    expect(workload?.job.maxRuntimeS).toBe(67);
  });
});
