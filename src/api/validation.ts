import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';

/**
 * Validation with TypeBox, the schema language of every route. Query strings and path parameters
 * arrive as text, so they are converted ("5" → 5) before checking; JSON bodies are not: a number
 * where a string belongs is a client bug to report, not to paper over. Defaults are filled in,
 * unknown fields rejected (the schemas say additionalProperties: false).
 */
export function registerValidation(app: FastifyInstance): void {
  const cache = new WeakMap<object, TypeCheck<TSchema>>();
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const s = schema as TSchema;
    let check = cache.get(s);
    if (!check) {
      check = TypeCompiler.Compile(s);
      cache.set(s, check);
    }
    const compiled = check;
    const integers = httpPart === 'body' ? [] : integerKeys(s);
    return (input: unknown) => {
      // "1.9", "+1" and "1e0" would convert to integers; an id or a count is written in digits.
      for (const key of integers) {
        const raw = (input as Record<string, unknown> | undefined)?.[key];
        if (typeof raw === 'string' && !/^-?\d{1,16}$/.test(raw)) {
          return {
            error: Object.assign(new Error(`${httpPart}.${key}: must be an integer written in digits`), {
              statusCode: 400,
              code: 'VGL_BAD_REQUEST',
            }),
          };
        }
      }
      let value = httpPart === 'body' ? input : Value.Convert(s, Value.Clone(input));
      value = Value.Default(s, value);
      if (compiled.Check(value)) return { value };
      const first = compiled.Errors(value).First();
      const where = first?.path ? `${httpPart}${first.path.replaceAll('/', '.')}` : (httpPart ?? 'request');
      return {
        error: Object.assign(new Error(`${where}: ${first?.message ?? 'is invalid'}`), { statusCode: 400, code: 'VGL_BAD_REQUEST' }),
      };
    };
  });
}

/** Properties of an object schema that are integers. */
function integerKeys(schema: TSchema): string[] {
  const props = (schema as { properties?: Record<string, { type?: unknown }> }).properties ?? {};
  return Object.entries(props)
    .filter(([, p]) => p.type === 'integer')
    .map(([k]) => k);
}
