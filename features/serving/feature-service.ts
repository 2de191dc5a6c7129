import type { FeatureCatalog } from '../catalog';
import type { OfflinePushLog } from '../offline/push-log';
import type { OnlineReader } from '../online/online-reader';
import type { OnlineWriter, WriteReport } from '../online/online-writer';
import { FeatureRequestError } from './feast-errors';
import { resolveOnlineRequest } from './feast-request';
import {
  type LentBytes,
  type OnlineFeaturesResponse,
  onlineFeaturesBytes,
  onlineFeaturesJson,
} from './feast-response';
import { resolvePush } from './push-request';

export interface FeatureServiceOptions {
  readonly catalog: FeatureCatalog;
  readonly reader: OnlineReader;
  readonly writer: OnlineWriter;
  /** Absent where offline pushes are not accepted. */
  readonly pushLog?: OfflinePushLog;
  readonly nowUs?: () => number;
}

export interface PushResult extends Partial<WriteReport> {
  readonly rows: number;
  /** The push log object the offline rows went to. */
  readonly offlineObject?: string;
}

/** The feature API's operations, free of HTTP: the Lambda and the local server share them. */
export class FeatureServing {
  private readonly nowUs: () => number;

  constructor(private readonly options: FeatureServiceOptions) {
    this.nowUs = options.nowUs ?? (() => Date.now() * 1000);
  }

  get catalog(): FeatureCatalog {
    return this.options.catalog;
  }

  /** The answer to a `POST /get-online-features` body, as the JSON bytes (UTF-8) the API sends. */
  async getOnlineFeaturesJson(team: string, body: unknown): Promise<Buffer<ArrayBuffer>> {
    const { query, records } = await this.readOnline(team, body);
    return onlineFeaturesJson(query, records, this.nowUs());
  }

  /** The same bytes in a reused buffer, for a server that releases it once its socket has them. */
  async getOnlineFeaturesBytes(team: string, body: unknown): Promise<LentBytes> {
    const { query, records } = await this.readOnline(team, body);
    return onlineFeaturesBytes(query, records, this.nowUs());
  }

  private async readOnline(team: string, body: unknown) {
    const query = resolveOnlineRequest(this.options.catalog, team, body);
    const records = await this.options.reader.read(
      query.selections.map((s) => ({ view: s.view, keys: s.keys })),
    );
    return { query, records };
  }

  /** The same answer as an object, for callers in this process. */
  async getOnlineFeatures(team: string, body: unknown): Promise<OnlineFeaturesResponse> {
    return JSON.parse(
      (await this.getOnlineFeaturesJson(team, body)).toString('utf8'),
    ) as OnlineFeaturesResponse;
  }

  async push(team: string, body: unknown): Promise<PushResult> {
    const batch = resolvePush(this.options.catalog, team, body, this.nowUs());
    let offlineObject: string | undefined;
    if (batch.to !== 'online') {
      if (!this.options.pushLog)
        throw new FeatureRequestError(422, 'this deployment takes online pushes only', [
          { field: 'to', reason: 'offline pushes are not configured' },
        ]);
      // Offline first: a push that fails half way leaves at most an offline row, never an online value without one.
      offlineObject = await this.options.pushLog.append(batch.view.name, batch.view.version, batch.rows);
    }
    const report = batch.to === 'offline' ? {} : await this.options.writer.write(batch.writes);
    return { rows: batch.writes.length, ...report, ...(offlineObject ? { offlineObject } : {}) };
  }
}
