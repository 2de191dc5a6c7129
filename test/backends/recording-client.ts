/** One request as the service would receive it: the command's name and its input. */
export interface RecordedCall {
  readonly command: string;
  readonly input: unknown;
}

type Responder = (input: never) => unknown;

/**
 * A stand-in for an AWS SDK v3 client (BatchClient, SageMakerClient): records every
 * `send(command)` and answers from per-command responders (`{}` when none is given). A
 * responder that throws makes `send` reject, as the SDK does with a service error.
 */
export class RecordingClient {
  readonly calls: RecordedCall[] = [];

  constructor(private readonly responders: Readonly<Record<string, Responder>> = {}) {}

  async send(command: { readonly input: unknown }): Promise<unknown> {
    const name = command.constructor.name.replace(/Command$/, '');
    this.calls.push({ command: name, input: command.input });
    const respond = this.responders[name];
    return respond ? respond(command.input as never) : {};
  }

  /** Inputs of every call of one command, in order. */
  inputsOf(command: string): unknown[] {
    return this.calls.filter((c) => c.command === command).map((c) => c.input);
  }

  /** Typed as the SDK client the backend takes. */
  as<Client>(): Client {
    return this as unknown as Client;
  }
}
