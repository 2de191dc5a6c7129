import { z } from 'zod';

/** A whole number in a query string: digits only, so `attempt=` or `offset=1e3` is refused, not read as 0 or 1000. */
const wholeNumber = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,14})$/, 'a whole number >= 0')
  .transform(Number)
  .openapi({ type: 'integer', minimum: 0, maximum: 999_999_999_999_999 });

/** `GET /jobs/{id}/logs` query: validates the handler's input and documents it in OpenAPI. */
export const logsQuerySchema = z.object({
  attempt: wholeNumber.optional().openapi({ description: 'An earlier attempt; default: the latest' }),
  offset: wholeNumber.optional().openapi({ description: 'nextOffset of the previous page; default: 0' }),
});
