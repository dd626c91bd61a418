import { afterAll } from 'vitest';
import { removeTempDirs } from './fixtures.js';

// Registered before each file's own hooks, so it runs after them (after hooks run in reverse): the
// file's daemons and brokers have stopped writing into these directories by then.
afterAll(() => removeTempDirs());
