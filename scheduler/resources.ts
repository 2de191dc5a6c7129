/** A bundle of the resources the scheduler shares out. */
export interface Resources {
  readonly gpus: number;
  readonly cpus: number;
  readonly memoryMiB: number;
}
