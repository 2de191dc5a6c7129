import { readFileSync } from 'node:fs';

/** One row of a Philly-format trace: timestamp,duration,num_gpus,gpu_time,cluster. */
export interface TraceRecord {
  /** Row number in the file (0-based, header excluded): the job's stable identity. */
  readonly row: number;
  readonly submitTime: number;
  readonly durationS: number;
  readonly gpus: number;
  readonly cluster: string;
}

// gpu_time must be present to be the format, but it is always duration × num_gpus.
const COLUMNS = ['timestamp', 'duration', 'num_gpus', 'gpu_time', 'cluster'] as const;

export function readTrace(path: string): TraceRecord[] {
  return parseTrace(readFileSync(path, 'utf8'));
}

/** Parses the CSV and returns the records in submit order (ties keep file order). */
export function parseTrace(csv: string): TraceRecord[] {
  const [header = '', ...lines] = csv.split(/\r?\n/).filter((line) => line.trim() !== '');
  const names = header.split(',').map((name) => name.trim());
  const column = Object.fromEntries(COLUMNS.map((name) => [name, names.indexOf(name)])) as Record<
    (typeof COLUMNS)[number],
    number
  >;
  const missing = COLUMNS.filter((name) => column[name] < 0);
  if (missing.length > 0) throw new Error(`trace is missing column(s): ${missing.join(', ')}`);

  const records = lines.map((line, row) => {
    const cells = line.split(',');
    const cell = (name: (typeof COLUMNS)[number]) => (cells[column[name]] ?? '').trim();
    const record: TraceRecord = {
      row,
      // Philly timestamps carry no zone; read them as UTC so results do not depend on TZ.
      submitTime: Date.parse(`${cell('timestamp').replace(' ', 'T')}Z`) / 1000,
      durationS: Number(cell('duration')),
      gpus: Number(cell('num_gpus')),
      cluster: cell('cluster'),
    };
    if (!Number.isFinite(record.submitTime) || !(record.durationS >= 0) || !(record.gpus >= 1)) {
      throw new Error(`trace row ${row + 2} is malformed: ${line}`);
    }
    return record;
  });
  return records.sort((a, b) => a.submitTime - b.submitTime || a.row - b.row);
}

export interface TraceSummary {
  readonly jobs: number;
  readonly teams: number;
  readonly firstSubmit: number;
  readonly lastSubmit: number;
  readonly spanS: number;
  readonly gpuTimeS: number;
  /** GPUs the trace keeps busy on average over its submit span. */
  readonly offeredGpus: number;
  /** GPUs of the largest job: any cluster for the trace must hold it. */
  readonly maxGpus: number;
}

export function summarizeTrace(records: readonly TraceRecord[]): TraceSummary {
  const firstSubmit = records[0]?.submitTime ?? 0;
  const lastSubmit = records[records.length - 1]?.submitTime ?? 0;
  const spanS = Math.max(1, lastSubmit - firstSubmit);
  const gpuTimeS = records.reduce((sum, record) => sum + record.durationS * record.gpus, 0);
  return {
    jobs: records.length,
    teams: new Set(records.map((record) => record.cluster)).size,
    firstSubmit,
    lastSubmit,
    spanS,
    gpuTimeS,
    offeredGpus: gpuTimeS / spanS,
    maxGpus: records.reduce((most, record) => Math.max(most, record.gpus), 0),
  };
}
