/**
 * Turns the JIT dump a Bun process writes when started with
 * `BUN_JSC_useJITDump=1 BUN_JSC_jitDumpDirectory=DIR` into the perf map
 * `perf report` reads by itself (/tmp/perf-<pid>.map: start, size, name per
 * line), so that samples in JavaScriptCore's JIT code get function names.
 * (`perf inject --jit` would read the dump directly, but it only accepts files
 * named jit-<pid>.dump, and JSC names them jit-<tid>-<pid>.dump.)
 *
 *   bun run bench/lib/jitdump-perf-map.ts DIR/jit-*-<pid>.dump
 *
 * Format: the Linux perf jitdump specification — a 40-byte header (magic
 * "JiTD" little-endian, version, header size, machine, pad, pid, timestamp,
 * flags), then records of { id u32, total size u32, timestamp u64, … };
 * JIT_CODE_LOAD (id 0) goes on with pid u32, tid u32, vma u64, code address
 * u64, code size u64, code index u64, a NUL-terminated name and the code.
 */
const CODE_LOAD = 0;

export function perfMapLines(dump: Uint8Array): { pid: number; lines: string[] } {
  const view = new DataView(dump.buffer, dump.byteOffset, dump.byteLength);
  if (view.getUint32(0, true) !== 0x4a695444) throw new Error("not a JIT dump (magic)");
  const headerSize = view.getUint32(8, true);
  const pid = view.getUint32(20, true);
  const lines: string[] = [];
  const decoder = new TextDecoder();
  for (let at = headerSize; at + 16 <= dump.byteLength;) {
    const id = view.getUint32(at, true);
    const size = view.getUint32(at + 4, true);
    if (size < 16 || at + size > dump.byteLength) break; // the last record may still be being written
    if (id === CODE_LOAD) {
      const codeAddr = view.getBigUint64(at + 32, true);
      const codeSize = view.getBigUint64(at + 40, true);
      const nameStart = at + 56;
      const nameEnd = dump.indexOf(0, nameStart);
      const name = decoder.decode(dump.subarray(nameStart, nameEnd)).replace(/\s+/g, " ");
      lines.push(`${codeAddr.toString(16)} ${codeSize.toString(16)} ${name}`);
    }
    at += size;
  }
  return { pid, lines };
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) {
    console.error("Usage: bun run bench/lib/jitdump-perf-map.ts DIR/jit-<tid>-<pid>.dump");
    process.exit(2);
  }
  const { pid, lines } = perfMapLines(await Bun.file(file).bytes());
  const out = `/tmp/perf-${pid}.map`;
  await Bun.write(out, lines.join("\n") + "\n");
  console.log(`${out}: ${lines.length} JIT code regions`);
}
