import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/**
 * A file of the data dir made once, on first use, readable by its owner only (0600). Processes
 * started side by side on one data dir each make one: the first linked into place wins (a link
 * fails where the file exists, and is never seen half written), and every process reads that one.
 * Answers the file's contents.
 */
export function fileMadeOnce(file: string, make: () => string): string {
  if (!existsSync(file)) {
    const candidate = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(candidate, make(), { mode: 0o600 });
    try {
      linkSync(candidate, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(candidate);
    }
  }
  return readFileSync(file, 'utf8');
}
