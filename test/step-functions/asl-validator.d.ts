/** asl-validator ships JavaScript only; this is the part of its API the tests call. */
declare module 'asl-validator' {
  interface ValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly { readonly message?: string }[];
    readonly errorsText?: (separator?: string) => string;
  }
  export default function aslValidator(
    definition: unknown,
    options?: { readonly checkPaths?: boolean; readonly checkArn?: boolean },
  ): ValidationResult;
}
