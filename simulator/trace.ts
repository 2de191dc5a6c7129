import { readFileSync } from 'node:fs';

/**
 * One GPU job of a trace. Two public formats are read, told apart by their header:
 * - Philly as this repository ships it: `timestamp,duration,num_gpus,gpu_time,cluster`;
 * - Helios (SenseTime, SC '21; github.com/S-Lab-System-Group/HeliosData), each cluster's
 *   `cluster_log.csv`: `job_id,user,vc,gpu_num,cpu_num,node_num,state,submit_time,start_time,
 *   end_time,duration,queue`, its virtual cluster (`vc`) being the team.
 */
export interface TraceRecord {
  /** Row number in the file (0-based, header excluded): the job's stable identity. */
  readonly row: number;
  readonly submitTime: number;
  readonly durationS: number;
  readonly gpus: number;
  /** The team: Philly's cluster, Helios' virtual cluster. */
  readonly cluster: string;
}

export type TraceFormat = 'philly' | 'helios';

export interface ParsedTrace {
  readonly format: TraceFormat;
  /** GPU jobs in submit order (ties keep file order). */
  readonly records: TraceRecord[];
  /** Rows asking for no GPU (Helios' CPU jobs): the replay schedules GPU pools, so they are left out. */
  readonly cpuOnlyRows: number;
}

interface FormatColumns {
  readonly submit: string;
  readonly duration: string;
  readonly gpus: string;
  readonly team: string;
  /** Columns that must be present for the header to be this format. */
  readonly required: readonly string[];
}

// Philly's gpu_time must be present to be the format, but it is always duration × num_gpus.
const FORMATS: Record<TraceFormat, FormatColumns> = {
  philly: {
    submit: 'timestamp',
    duration: 'duration',
    gpus: 'num_gpus',
    team: 'cluster',
    required: ['timestamp', 'duration', 'num_gpus', 'gpu_time', 'cluster'],
  },
  helios: {
    submit: 'submit_time',
    duration: 'duration',
    gpus: 'gpu_num',
    team: 'vc',
    required: ['submit_time', 'duration', 'gpu_num', 'vc'],
  },
};

export function readTrace(path: string): TraceRecord[] {
  return parseTrace(readFileSync(path, 'utf8'));
}

export function readTraceFile(path: string): ParsedTrace {
  return parseTraceFile(readFileSync(path, 'utf8'));
}

/** Parses the CSV and returns its GPU jobs in submit order (ties keep file order). */
export function parseTrace(csv: string): TraceRecord[] {
  return parseTraceFile(csv).records;
}

export function parseTraceFile(csv: string): ParsedTrace {
  const [header = '', ...lines] = csv.split(/\r?\n/).filter((line) => line.trim() !== '');
  const names = header.split(',').map((name) => name.trim());
  const format = detectFormat(names);
  const columns = FORMATS[format];
  const index = (name: string) => names.indexOf(name);
  const at = {
    submit: index(columns.submit),
    duration: index(columns.duration),
    gpus: index(columns.gpus),
    team: index(columns.team),
  };

  const records: TraceRecord[] = [];
  let cpuOnlyRows = 0;
  lines.forEach((line, row) => {
    const cells = line.split(',');
    const cell = (position: number) => (cells[position] ?? '').trim();
    const gpus = Number(cell(at.gpus));
    const record: TraceRecord = {
      row,
      // Both formats write local times without a zone; read them as UTC so results do not depend on TZ.
      submitTime: Date.parse(`${cell(at.submit).replace(' ', 'T')}Z`) / 1000,
      durationS: Number(cell(at.duration)),
      gpus,
      cluster: cell(at.team),
    };
    const malformed =
      !Number.isFinite(record.submitTime) ||
      !(record.durationS >= 0) ||
      !(gpus >= 0) ||
      !Number.isInteger(gpus) ||
      record.cluster === '';
    if (malformed) throw new Error(`trace row ${row + 2} is malformed: ${line}`);
    if (gpus === 0) {
      if (format === 'philly') throw new Error(`trace row ${row + 2} asks for no GPU: ${line}`);
      cpuOnlyRows++;
      return;
    }
    records.push(record);
  });
  records.sort((a, b) => a.submitTime - b.submitTime || a.row - b.row);
  return { format, records, cpuOnlyRows };
}

function detectFormat(names: readonly string[]): TraceFormat {
  const missing = (format: TraceFormat) => FORMATS[format].required.filter((name) => !names.includes(name));
  if (missing('helios').length === 0) return 'helios';
  const phillyMissing = missing('philly');
  if (phillyMissing.length === 0) return 'philly';
  throw new Error(
    `trace is missing column(s): ${phillyMissing.join(', ')} (Philly format), or ${missing('helios').join(', ')} (Helios format)`,
  );
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
