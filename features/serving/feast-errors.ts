/** A field the client got wrong, and why: every 4xx names at least one. */
export interface FieldProblem {
  /** Path in the body, e.g. `entities.drive_id[2]` or `features[0]`. */
  readonly field: string;
  readonly reason: string;
}

/**
 * A request Drivetrain refuses, in Feast's terms: `feastClass` is the exception Feast's own
 * server raises for it (feast/errors.py), so Feast's client re-raises the same class.
 */
export class FeatureRequestError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 413 | 422,
    message: string,
    readonly fields: readonly FieldProblem[],
    readonly feastClass?: string,
  ) {
    super(message);
    this.name = 'FeatureRequestError';
  }
}

/**
 * The body of an error response. Feast's server answers its own errors with a JSON *string*
 * holding `{module, class, message}` (FeastError.to_error_detail), which Feast's client turns
 * back into the exception; request-shape errors get FastAPI's 422 `detail` list. Both carry
 * `fields` naming what was wrong.
 */
export function errorResponseBody(error: FeatureRequestError): unknown {
  if (error.feastClass) {
    return JSON.stringify({
      module: 'feast.errors',
      class: error.feastClass,
      message: error.message,
      fields: error.fields,
    });
  }
  return {
    detail: error.fields.map((f) => ({
      type: 'value_error',
      loc: ['body', ...pathOf(f.field)],
      msg: f.reason,
    })),
    error: 'ValidationError',
    message: error.message,
    fields: error.fields,
  };
}

/** `entities.drive_id[2]` → ['entities', 'drive_id', 2], as FastAPI writes `loc`. */
function pathOf(field: string): (string | number)[] {
  return field
    .split(/\.|\[|\]/)
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

export const invalid = (field: string, reason: string, message = `${field}: ${reason}`) =>
  new FeatureRequestError(422, message, [{ field, reason }]);

/**
 * Checks a columnar table (Feast's `entities` map or push `df`): an object of equally long
 * lists, with at least one and at most `maxRows` rows. Returns the columns and the row count.
 */
export function columnarTable(
  value: unknown,
  field: string,
  maxRows: number,
): { columns: Record<string, unknown[]>; rows: number } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(field, 'must be an object mapping column names to lists of values');
  const columns = value as Record<string, unknown>;
  let rows: number | undefined;
  for (const [name, values] of Object.entries(columns)) {
    if (!Array.isArray(values)) throw invalid(`${field}.${name}`, 'must be a list of values');
    if (rows !== undefined && values.length !== rows)
      throw invalid(
        `${field}.${name}`,
        `has ${values.length} values, other columns ${rows}: all rows must have the same columns`,
      );
    rows = values.length;
  }
  if (!rows) throw invalid(field, 'must hold at least one row');
  if (rows > maxRows) throw invalid(field, `at most ${maxRows} rows per request`);
  return { columns: columns as Record<string, unknown[]>, rows };
}
