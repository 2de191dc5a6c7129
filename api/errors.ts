import type { FieldError } from '../jobs/spec';

/** The body of every error response: a code, a sentence, and the offending fields. */
export interface ErrorBody {
  readonly error: string;
  readonly message: string;
  readonly fields: FieldError[];
}

export function errorBody(error: string, message: string, fields: FieldError[]): ErrorBody {
  return { error, message, fields };
}
