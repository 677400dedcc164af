import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * Overwrites the start of a page in the middle of a SQLite file, as a torn write or a bad disk
 * block leaves it: that page's b-tree header becomes garbage, which integrity_check (or the read
 * itself) reports.
 */
export function corruptMiddle(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    const header = Buffer.alloc(100);
    readSync(fd, header, 0, 100, 0);
    // The header's page size (1 stands for 65536) and page count.
    const pageSize = header.readUInt16BE(16) === 1 ? 65536 : header.readUInt16BE(16);
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, Math.floor(header.readUInt32BE(28) / 2) * pageSize);
  } finally {
    closeSync(fd);
  }
}
