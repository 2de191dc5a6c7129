import { describe, expect, test } from 'vitest';
import { DEFAULT_DRIVETRAIN_CONFIG, DrivetrainPolicy } from '../../scheduler/drivetrain/policy';
import type { Team } from '../../scheduler/model';
import { job, NOW, pool, running, state, team } from './fixtures';

const policy = new DrivetrainPolicy();
const startedIds = (decision: { starts: readonly { jobId: string }[] }) =>
  decision.starts.map((s) => s.jobId);
const reasonOf = (
  decision: { waiting: readonly { jobId: string; reason: { code: string } }[] },
  id: string,
) => decision.waiting.find((w) => w.jobId === id)?.reason.code;

describe('placement', () => {
  test('GIVEN free on-demand capacity WHEN a standard job waits THEN it starts there', () => {
    const decision = policy.decide(state({ pending: [job('j1')] }), NOW);
    expect(decision.starts).toEqual([{ jobId: 'j1', placement: { poolId: 'od', nodes: [0] } }]);
  });

  test('GIVEN only spot capacity is free WHEN a non-preemptible job waits THEN it stays pending', () => {
    const pools = [pool('od', 1), pool('spot', 1, 'spot')];
    const busy = running(job('r', { gpus: 8 }), 'od', [0]);
    const decision = policy.decide(
      state({ pools, running: [busy], pending: [job('j1', { priorityClass: 'critical' })] }),
      NOW,
    );
    expect(decision.starts).toEqual([]);
  });

  test('GIVEN spot and on-demand are free WHEN a preemptible job waits THEN it goes to spot', () => {
    const pools = [pool('od', 1), pool('spot', 1, 'spot')];
    const decision = policy.decide(
      state({ pools, pending: [job('p1', { priorityClass: 'preemptible' })] }),
      NOW,
    );
    expect(decision.starts[0]?.placement.poolId).toBe('spot');
  });

  test('GIVEN a 16-GPU gang job and two half-full nodes WHEN it is scheduled THEN it waits (all or nothing)', () => {
    const busy = [0, 1].map((node) => running(job(`r${node}`, { gpus: 4, team: 'b' }), 'od', [node]));
    const teams = [team('a', 16), team('b', 8)];
    const decision = policy.decide(
      state({ teams, running: busy, pending: [job('gang', { gpus: 16 })] }),
      NOW,
    );
    expect(decision.starts).toEqual([]);
    expect(reasonOf(decision, 'gang')).toBe('capacity');
  });

  test('GIVEN two empty nodes WHEN a 16-GPU gang job waits THEN it starts on both nodes at once', () => {
    const decision = policy.decide(state({ pending: [job('gang', { gpus: 16 })] }), NOW);
    expect(decision.starts[0]?.placement.nodes).toEqual([0, 1]);
  });

  test('GIVEN a job larger than any pool WHEN it waits THEN its reason is unschedulable', () => {
    const decision = policy.decide(state({ pending: [job('huge', { gpus: 64 })] }), NOW);
    expect(reasonOf(decision, 'huge')).toBe('unschedulable');
  });
});

describe('priority and aging', () => {
  test('GIVEN one free GPU WHEN a critical and a standard job wait THEN the critical job starts', () => {
    const pools = [pool('od', 1)];
    const teams = [team('a', 1), team('c', 7)];
    const busy = running(job('r', { gpus: 7, team: 'c', priorityClass: 'critical' }), 'od', [0]);
    const pending = [job('std', { submitTime: NOW - 500 }), job('crit', { priorityClass: 'critical' })];
    const decision = policy.decide(state({ pools, teams, running: [busy], pending }), NOW);
    expect(startedIds(decision)).toEqual(['crit']);
  });

  // Regression: aging used to lift a job one class per step, so after two steps preemptible
  // work went before fresh standard work (and old standard work before fresh critical work).
  test('GIVEN a preemptible job waiting three aging steps WHEN a fresh standard job competes for one GPU THEN the standard job starts', () => {
    const pools = [pool('od', 1)];
    const busy = running(job('r', { gpus: 7, priorityClass: 'critical' }), 'od', [0]);
    const aged = job('old', {
      priorityClass: 'preemptible',
      submitTime: NOW - 3 * DEFAULT_DRIVETRAIN_CONFIG.agingStepS - 1,
    });
    const decision = policy.decide(state({ pools, running: [busy], pending: [job('fresh'), aged] }), NOW);
    expect(startedIds(decision)).toEqual(['fresh']);
  });

  test('GIVEN standard work waiting three aging steps WHEN a fresh critical job competes for one GPU THEN the critical job starts', () => {
    const pools = [pool('od', 1)];
    const teams = [team('a', 1), team('b', 0), team('c', 7)];
    const busy = running(job('r', { gpus: 7, team: 'c', priorityClass: 'critical' }), 'od', [0]);
    const aged = job('old', { submitTime: NOW - 3 * DEFAULT_DRIVETRAIN_CONFIG.agingStepS - 1 });
    const fresh = job('crit', { priorityClass: 'critical', team: 'b' });
    const decision = policy.decide(state({ pools, teams, running: [busy], pending: [aged, fresh] }), NOW);
    expect(startedIds(decision)).toEqual(['crit']);
  });

  test('GIVEN a preempted job that has waited out its service level WHEN a fresh job of its class competes THEN the older job goes first', () => {
    const pools = [pool('od', 1)];
    const busy = running(job('r', { gpus: 7, priorityClass: 'critical' }), 'od', [0]);
    // 3 GPU-hours of service is level 2; two aging steps take it back to level 0.
    const resumed = job('resumed', {
      submitTime: NOW - 2 * DEFAULT_DRIVETRAIN_CONFIG.agingStepS - 4 * 3600,
      attainedGpuS: 3 * 3600,
    });
    const decision = policy.decide(state({ pools, running: [busy], pending: [job('fresh'), resumed] }), NOW);
    expect(startedIds(decision)).toEqual(['resumed']);
  });

  test('GIVEN a preempted job with attained service WHEN a fresh job of the same team competes THEN the fresh job goes first', () => {
    const pools = [pool('od', 1)];
    const busy = running(job('r', { gpus: 7, priorityClass: 'critical' }), 'od', [0]);
    const resumed = job('resumed', { submitTime: NOW - 120, attainedGpuS: 10 * 3600 });
    const decision = policy.decide(state({ pools, running: [busy], pending: [resumed, job('fresh')] }), NOW);
    expect(startedIds(decision)).toEqual(['fresh']);
  });
});

describe('fair share and quotas', () => {
  test('GIVEN team a used much more recently WHEN both teams want the last GPU THEN team b gets it', () => {
    const pools = [pool('od', 1)];
    const busy = running(job('r', { gpus: 7, priorityClass: 'critical', team: 'c' }), 'od', [0]);
    const teams = [team('a', 0), team('b', 1), team('c', 7)];
    const usage = { at: NOW - 60, byTeam: { a: { gpus: 8 * 86_400, cpus: 0, memoryMiB: 0 } } };
    const pending = [job('a1', { team: 'a', submitTime: NOW - 500 }), job('b1', { team: 'b' })];
    const decision = policy.decide(state({ pools, teams, running: [busy], pending, usage }), NOW);
    expect(startedIds(decision)).toEqual(['b1']);
  });

  // Regression: fair share added all GPU types into one resource, so a team that had used
  // many A10Gs lost its turn for an H100 to a team that had held fewer but scarcer H100s.
  test('GIVEN team a used many A10Gs and team b a few H100s WHEN both want the last H100 THEN team a gets it', () => {
    const pools = [
      { ...pool('h100', 1), gpuType: 'h100' },
      { ...pool('a10g', 8), gpuType: 'a10g' },
    ];
    const teams: Team[] = [
      { id: 'a', weight: 1, nominalQuota: { h100: 4, a10g: 32 } },
      { id: 'b', weight: 1, nominalQuota: { h100: 4, a10g: 32 } },
      { id: 'c', weight: 1, nominalQuota: { h100: 7 } },
    ];
    const hour = (gpus: number) => gpus * 3600;
    // Over the last day a held 24 A10Gs (a third of them) and b 4 H100s (half of them).
    const usage = {
      at: NOW - 60,
      byTeam: {
        a: { gpus: hour(24) * 24, cpus: 0, memoryMiB: 0, gpusByType: { a10g: hour(24) * 24 } },
        b: { gpus: hour(4) * 24, cpus: 0, memoryMiB: 0, gpusByType: { h100: hour(4) * 24 } },
      },
    };
    const busy = running(
      {
        ...job('r', { gpus: 7, team: 'c', priorityClass: 'critical' }),
        resources: { ...job('r', { gpus: 7 }).resources, gpuType: 'h100' },
      },
      'h100',
      [0],
    );
    const h100 = (id: string, owner: string) => {
      const base = job(id, { team: owner });
      return { ...base, resources: { ...base.resources, gpuType: 'h100' } };
    };
    const pending = [h100('b1', 'b'), h100('a1', 'a')];
    const decision = policy.decide(state({ pools, teams, running: [busy], pending, usage }), NOW);
    expect(startedIds(decision)).toEqual(['a1']);
  });

  test('GIVEN idle capacity WHEN a team is past its quota THEN it borrows', () => {
    const teams = [team('a', 4), team('b', 12)];
    const decision = policy.decide(state({ teams, pending: [job('big', { gpus: 8 })] }), NOW);
    expect(startedIds(decision)).toEqual(['big']);
  });

  test('GIVEN team b borrows the whole cluster WHEN team a submits within its quota THEN b is preempted to reclaim it', () => {
    const teams = [team('a', 8), team('b', 8)];
    const borrowed = [0, 1].map((node) => running(job(`b${node}`, { team: 'b', gpus: 8 }), 'od', [node]));
    const decision = policy.decide(
      state({ teams, running: borrowed, pending: [job('a1', { team: 'a', gpus: 8 })] }),
      NOW,
    );
    expect(decision.preemptions).toHaveLength(1);
    expect(decision.preemptions[0]?.reason).toBe('reclaim-quota');
    expect(startedIds(decision)).toEqual(['a1']);
  });

  test('GIVEN a team at its quota and a full cluster WHEN it submits more THEN the reason is quota', () => {
    const teams = [team('a', 8), team('b', 8)];
    const own = [
      running(job('a0', { gpus: 8 }), 'od', [0]),
      running(job('b0', { team: 'b', gpus: 8 }), 'od', [1]),
    ];
    const decision = policy.decide(state({ teams, running: own, pending: [job('a1')] }), NOW);
    expect(reasonOf(decision, 'a1')).toBe('quota');
  });
});

describe('preemption', () => {
  test('GIVEN two preemptible victims WHEN a critical job needs one node THEN the one with less work since its checkpoint goes', () => {
    const victims = [
      running(job('costly', { priorityClass: 'preemptible', gpus: 8 }), 'od', [0], 3000),
      running(job('cheap', { priorityClass: 'preemptible', gpus: 8 }), 'od', [1], 60),
    ];
    const decision = policy.decide(
      state({ running: victims, pending: [job('crit', { priorityClass: 'critical', gpus: 8 })] }),
      NOW,
    );
    expect(decision.preemptions.map((p) => p.jobId)).toEqual(['cheap']);
  });

  test('GIVEN a victim that just started WHEN a critical job waits THEN the grace period protects it', () => {
    const fresh = {
      ...running(job('young', { priorityClass: 'preemptible', gpus: 16 }), 'od', [0, 1]),
      startedAt: NOW - 60,
    };
    const decision = policy.decide(
      state({ running: [fresh], pending: [job('crit', { priorityClass: 'critical' })] }),
      NOW,
    );
    expect(decision.preemptions).toEqual([]);
  });

  test('GIVEN many impatient critical jobs WHEN victims abound THEN preemptions stop at the impatient cap', () => {
    const pools = [pool('od', 32)];
    const teams = [team('a', 256)];
    const victims = Array.from({ length: 32 }, (_, n) =>
      running(job(`v${n}`, { priorityClass: 'preemptible', gpus: 8 }), 'od', [n]),
    );
    const pending = Array.from({ length: 32 }, (_, n) =>
      job(`c${n}`, { priorityClass: 'critical', gpus: 8 }),
    );
    const decision = policy.decide(state({ pools, teams, running: victims, pending }), NOW);
    expect(decision.preemptions).toHaveLength(DEFAULT_DRIVETRAIN_CONFIG.preemption.impatientVictims);
  });

  test('GIVEN many patient critical jobs WHEN victims abound THEN preemptions stop at the churn cap', () => {
    const pools = [pool('od', 32)];
    const teams = [team('a', 256)];
    const victims = Array.from({ length: 32 }, (_, n) =>
      running(job(`v${n}`, { priorityClass: 'preemptible', gpus: 8 }), 'od', [n]),
    );
    const waited = NOW - DEFAULT_DRIVETRAIN_CONFIG.preemption.patienceS;
    const pending = Array.from({ length: 32 }, (_, n) =>
      job(`c${n}`, { priorityClass: 'critical', gpus: 8, submitTime: waited }),
    );
    const decision = policy.decide(state({ pools, teams, running: victims, pending }), NOW);
    expect(decision.preemptions).toHaveLength(DEFAULT_DRIVETRAIN_CONFIG.maxPreemptionsPerRound);
  });

  test('GIVEN a job that needs eight victims WHEN it has just arrived THEN it waits, and once patient it stops them all at once', () => {
    const pools = [pool('od', 1)];
    const teams = [team('a', 8)];
    const victims = Array.from({ length: 8 }, (_, n) =>
      running(job(`v${n}`, { priorityClass: 'preemptible', team: 'b' }), 'od', [0]),
    );
    const fresh = job('crit', { priorityClass: 'critical', gpus: 8 });
    expect(
      policy.decide(state({ pools, teams, running: victims, pending: [fresh] }), NOW).preemptions,
    ).toEqual([]);
    const patient = { ...fresh, submitTime: NOW - DEFAULT_DRIVETRAIN_CONFIG.preemption.patienceS };
    const decision = policy.decide(state({ pools, teams, running: victims, pending: [patient] }), NOW);
    expect(decision.preemptions).toHaveLength(8);
    expect(startedIds(decision)).toEqual(['crit']);
  });
});

describe('gang reservation and backfill', () => {
  const pools = [pool('od', 2)];
  // Node 0 frees in one hour; node 1 is held by a job that runs for days.
  const busy = [
    {
      ...running(job('soon', { gpus: 8, priorityClass: 'critical', maxRuntimeS: 3600 }), 'od', [0]),
      startedAt: NOW - 1,
    },
    {
      ...running(job('long', { gpus: 4, priorityClass: 'critical', maxRuntimeS: 7 * 86_400 }), 'od', [1]),
      startedAt: NOW - 1,
    },
  ];

  test('GIVEN a blocked 8-GPU job WHEN the round runs THEN it holds the node that frees first', () => {
    const decision = policy.decide(
      state({ pools, running: busy, pending: [job('big', { gpus: 8, submitTime: NOW - 600 })] }),
      NOW,
    );
    expect(decision.reservation).toMatchObject({ jobId: 'big', placement: { poolId: 'od', nodes: [0] } });
  });

  test('GIVEN a reservation WHEN a long small job could use free GPUs elsewhere THEN it backfills there', () => {
    const pending = [
      job('big', { gpus: 8, submitTime: NOW - 600 }),
      job('small', { gpus: 2, maxRuntimeS: 30 * 86_400 }),
    ];
    const decision = policy.decide(state({ pools, running: busy, pending }), NOW);
    expect(decision.starts).toEqual([{ jobId: 'small', placement: { poolId: 'od', nodes: [1] } }]);
  });
});

describe('why pending', () => {
  test('GIVEN a backlog WHEN a round runs THEN every pending job has exactly one reason', () => {
    const pending = Array.from({ length: 50 }, (_, n) =>
      job(`j${n}`, { gpus: 4, team: n % 2 ? 'a' : 'b', submitTime: NOW - n }),
    );
    const decision = policy.decide(state({ pending }), NOW);
    const accounted = [
      ...decision.starts.map((s) => s.jobId),
      ...decision.waiting.map((w) => w.jobId),
    ].sort();
    expect(accounted).toEqual(pending.map((j) => j.id).sort());
    for (const { reason } of decision.waiting) expect(reason.message.length).toBeGreaterThan(0);
  });
});

describe('sessions', () => {
  test('GIVEN the same state WHEN decided by snapshot and by a session THEN the decisions are equal', () => {
    const pending = Array.from({ length: 30 }, (_, n) =>
      job(`j${n}`, { gpus: 1 + (n % 8), team: n % 3 ? 'a' : 'b', submitTime: NOW - n * 7 }),
    );
    const snapshot = state({ pending });
    const session = policy.open(state({ pending: [] }));
    for (const j of pending) session.submit(j);
    expect(session.decide(NOW)).toEqual(policy.decide(snapshot, NOW));
  });
});
