import type Database from 'better-sqlite3';
import type { DeadLetter, DeadLetterSink } from '../core/dead-letter.js';
import type { Rejection } from '../core/reasons.js';

export interface StoredDeadLetter extends DeadLetter {
  id: number;
}

/** The bounded dead-letter log in the state database: the newest `limit` entries are kept. */
export class SqliteDeadLetterLog implements DeadLetterSink {
  private readonly insert: Database.Statement;
  private readonly trimStmt: Database.Statement;
  private sinceTrim = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly limit: number,
  ) {
    this.insert = db.prepare(
      'INSERT INTO dead_letters (received_at, topic, reasons, rejections, accepted, excerpt) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.trimStmt = db.prepare('DELETE FROM dead_letters WHERE id <= (SELECT MAX(id) FROM dead_letters) - ?');
  }

  record(letter: DeadLetter): void {
    if (this.limit === 0) return;
    const reasons = [...new Set(letter.rejections.map((r) => r.reason))].join(',');
    // Keep at most 20 details per message: a 10,000-line payload of junk must not bloat the log.
    const rejections = JSON.stringify(letter.rejections.slice(0, 20));
    this.insert.run(letter.receivedAt, letter.topic.slice(0, 512), reasons, rejections, letter.accepted, letter.excerpt);
    if (++this.sinceTrim >= Math.max(1, Math.min(100, this.limit))) {
      this.sinceTrim = 0;
      this.trimStmt.run(this.limit);
    }
  }

  list(options: { limit: number; reason?: string }): StoredDeadLetter[] {
    this.trimStmt.run(this.limit);
    const rows = (
      options.reason
        ? this.db
            .prepare("SELECT * FROM dead_letters WHERE ',' || reasons || ',' LIKE ? ORDER BY id DESC LIMIT ?")
            .all(`%,${options.reason},%`, options.limit)
        : this.db.prepare('SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?').all(options.limit)
    ) as Array<{ id: number; received_at: number; topic: string; rejections: string; accepted: number; excerpt: string }>;
    return rows.map((r) => ({
      id: r.id,
      receivedAt: r.received_at,
      topic: r.topic,
      rejections: JSON.parse(r.rejections) as Rejection[],
      accepted: r.accepted,
      excerpt: r.excerpt,
    }));
  }
}
