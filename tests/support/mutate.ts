import fc from 'fast-check';

/** Flips, drops, inserts and truncates bytes of a valid payload: what a noisy link or a buggy device sends. */
export function mutatedBytes(valid: fc.Arbitrary<string | Uint8Array>, maxEdits = 6): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'drop', 'insert', 'cut')), {
        minLength: 1,
        maxLength: maxEdits,
      }),
    )
    .map(([text, edits]) => {
      let bytes = Array.from(typeof text === 'string' ? Buffer.from(text) : text);
      for (const [at, byte, op] of edits) {
        const i = bytes.length === 0 ? 0 : at % bytes.length;
        if (op === 'flip') bytes[i] = byte;
        else if (op === 'drop') bytes.splice(i, 1);
        else if (op === 'insert') bytes.splice(i, 0, byte);
        else bytes = bytes.slice(0, i);
      }
      return Buffer.from(bytes);
    });
}
