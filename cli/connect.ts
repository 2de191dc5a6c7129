import { DrivetrainApi } from './api-client';
import { resolveEndpoint } from './endpoint';
import type { CliIo } from './io';
import { requestAuthFor } from './request-auth';

/** The API client for the endpoint chosen by `--api`/`--team` and the environment. */
export function connect(flags: { api?: string; team?: string }, io: CliIo): DrivetrainApi {
  const endpoint = resolveEndpoint(flags, io.env);
  return new DrivetrainApi(endpoint.baseUrl, requestAuthFor(endpoint, io.credentials));
}
