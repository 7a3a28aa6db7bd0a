// Runs one job under the real MicroPython 1.27 (WebAssembly build) so tests can prove the core runs there.
// Job on stdin as JSON: {files: {"/lib/x.py": "source"}, script: "...", heapsize: bytes}.
// MicroPython's stdout goes to stdout byte for byte; a Python exception -> traceback on stderr, exit 1.

import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const DEFAULT_HEAPSIZE = 1024 * 1024;

// Collects single bytes from MicroPython and writes them out in chunks.
function byteSink(stream) {
  const chunk = Buffer.alloc(65536);
  let used = 0;
  const flush = () => {
    if (used > 0) {
      stream.write(Buffer.from(chunk.subarray(0, used)));
      used = 0;
    }
  };
  const put = (bytes) => {
    for (const byte of bytes) {
      if (used === chunk.length) flush();
      chunk[used++] = byte;
    }
  };
  return { put, flush };
}

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return Buffer.concat(parts).toString("utf8");
}

const job = JSON.parse(await readStdin());
const out = byteSink(process.stdout);
const err = byteSink(process.stderr);
const mp = await loadMicroPython({
  heapsize: job.heapsize ?? DEFAULT_HEAPSIZE,
  stdout: out.put,
  stderr: err.put,
  linebuffer: false,
});

for (const [path, text] of Object.entries(job.files ?? {})) {
  mp.FS.mkdirTree(path.slice(0, path.lastIndexOf("/")) || "/");
  mp.FS.writeFile(path, text);
}

try {
  mp.runPython("import sys\nif '/lib' not in sys.path:\n    sys.path.append('/lib')\n");
  mp.runPython(job.script);
} catch (error) {
  out.flush();
  err.flush();
  process.stderr.write(error.constructor.name === "PythonError" ? error.message : String(error.stack ?? error));
  process.exitCode = 1;
}
out.flush();
err.flush();
