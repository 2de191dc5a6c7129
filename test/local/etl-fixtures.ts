import { existsSync, readFileSync } from 'node:fs';

/** An event the local EventBridge stand-in received. */
export interface SunkEvent {
  readonly source: string;
  readonly 'detail-type': string;
  readonly detail: {
    readonly runId?: string;
    readonly manifest?: { readonly tables: Record<string, unknown> };
  };
}

/** A message the local SNS stand-in received. */
export interface SunkNotification {
  readonly Subject?: string;
  readonly Message: string;
  readonly MessageAttributes?: Record<string, { DataType: string; StringValue: string }>;
}

/** The records of a local EventBridge or SNS sink (one JSON document a line). */
export function sinkRecords<T extends SunkEvent | SunkNotification>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}
