import type { Rejection } from './reasons.js';

/** A refused message (or the refused part of one) with its reasons, kept for integrators to inspect. */
export interface DeadLetter {
  receivedAt: number;
  topic: string;
  rejections: Rejection[];
  /** Readings/events of the same message that were kept. */
  accepted: number;
  /** The start of the payload as text (non-UTF-8 bytes replaced), for diagnosis. */
  excerpt: string;
}

export interface DeadLetterSink {
  record(letter: DeadLetter): void;
}

export const DEAD_LETTER_EXCERPT_BYTES = 512;

export function payloadExcerpt(payload: Uint8Array): string {
  return Buffer.from(payload.subarray(0, DEAD_LETTER_EXCERPT_BYTES)).toString('utf8');
}
