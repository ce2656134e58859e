// Runs the built demo app under Node's own WASI in a child process: proc_exit ends the guest, and
// the exit status, stdout and stderr are exactly what a container runtime would observe.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PKG = resolve(__dirname, '..');
const WASM = join(PKG, 'dist-wasm', 'wasi-demo-app.wasm');
const HTTP_COMPONENT = join(PKG, 'dist-wasm', 'wasi-http-demo.wasm');

// The child reads its whole job from WASI_RUN so no argument parsing is needed.
const RUNNER = `
const { WASI } = require('node:wasi');
const { readFileSync } = require('node:fs');
const job = JSON.parse(process.env.WASI_RUN);
const wasi = new WASI({ version: 'preview1', args: job.args, env: {}, preopens: job.preopens, returnOnExit: true });
const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(job.wasm)), wasi.getImportObject());
process.exitCode = wasi.start(instance);
`;

// --no-turbo-fast-api-calls: Node 20's node:wasi fast-call path can run a GC inside fd_write and
// crash (SIGABRT/SIGSEGV) when the guest's memory grows; the slow path is safe.
const NODE_ARGS = ['--no-warnings', '--no-turbo-fast-api-calls', '-e', RUNNER];

function job(args: string[], preopens: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WASI_RUN: JSON.stringify({ wasm: WASM, args: ['wasi-demo-app.wasm', ...args], preopens }),
  };
}

function runApp(args: string[], preopens?: Record<string, string>) {
  const res = spawnSync(process.execPath, NODE_ARGS, {
    env: job(args, preopens),
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

let scratch: string;
beforeAll(() => {
  if (!existsSync(WASM)) {
    throw new Error(`${WASM} is missing; run: pnpm nx run @runwasi/wasi-demo-app:build:wasm`);
  }
  scratch = mkdtempSync(join(tmpdir(), 'wasi-demo-app-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('wasi-demo-app', () => {
  it('echo prints its words joined by spaces, then "exiting" on stderr, and exits 0', () => {
    expect(runApp(['echo', 'hello', 'wasi', 'world'])).toEqual({
      status: 0,
      stdout: 'hello wasi world\n',
      stderr: 'exiting\n',
    });
  });

  it('exit ends the process with the requested status', () => {
    expect(runApp(['exit', '42']).status).toBe(42);
    expect(runApp(['exit', '0']).status).toBe(0);
  });

  it('exit refuses a non-numeric code with status 1', () => {
    expect(runApp(['exit', 'soon'])).toMatchObject({ status: 1, stderr: 'exit: invalid code: soon\n' });
  });

  it('sleep waits for the (fractional) number of seconds and exits 0', () => {
    const started = Date.now();
    expect(runApp(['sleep', '0.3']).status).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('write puts its words into a file of the preopened directory', () => {
    expect(runApp(['write', '/out.txt', 'written', 'by', 'wasm'], { '/': scratch }).status).toBe(0);
    expect(readFileSync(join(scratch, 'out.txt'), 'utf8')).toBe('written by wasm');
  });

  it('write fails with status 1 when the file cannot be created', () => {
    const res = runApp(['write', '/no-such-dir/out.txt', 'x'], { '/': scratch });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/^write: \/no-such-dir\/out\.txt: /);
  });

  it('rejects an unknown command on stderr with status 1', () => {
    expect(runApp(['dance'])).toEqual({ status: 1, stdout: '', stderr: 'unknown command: dance\n' });
  });

  it('runs the daemon by default, printing a line every second until killed', async () => {
    const child = spawn(process.execPath, NODE_ARGS, { env: job([]), stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: number[] = [];
    let out = '';
    try {
      await new Promise<void>((done, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`only ${lines.length} lines after 10s: ${out}`)),
          10_000,
        );
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          while (lines.length < out.split('\n').length - 1) lines.push(Date.now());
          if (lines.length >= 2) {
            clearTimeout(timer);
            done();
          }
        });
        child.on('exit', (code) => fail(new Error(`daemon exited early with ${code}`)));
      });
    } finally {
      child.kill('SIGKILL');
    }
    expect(out.split('\n')[0]).toBe('This is a song that never ends.');
    // Each line is flushed as it is printed, about a second apart.
    expect(lines[1]! - lines[0]!).toBeGreaterThanOrEqual(900);
  }, 15_000);
});

describe('scripts/build-images.js', () => {
  const tar = (args: string[]) => {
    const res = spawnSync('tar', args, { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`tar ${args.join(' ')}: ${res.stderr}`);
    return res.stdout;
  };
  const json = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));
  const blob = (dir: string, digest: string) => join(dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));

  let out: string;
  beforeAll(() => {
    out = join(scratch, 'images');
    const res = spawnSync(process.execPath, [join(PKG, 'scripts', 'build-images.js'), '--out-dir', out], {
      encoding: 'utf8',
    });
    if (res.status !== 0) throw new Error(`build-images.js failed (${res.status}): ${res.stderr}`);
  });

  function unpack(file: string) {
    const dir = join(scratch, file.replace(/\.tar$/, ''));
    spawnSync('mkdir', ['-p', dir]);
    tar(['-xf', join(out, file), '-C', dir]);
    const index = json(dir, 'index.json');
    const manifest = JSON.parse(readFileSync(blob(dir, index.manifests[0].digest), 'utf8'));
    const config = JSON.parse(readFileSync(blob(dir, manifest.config.digest), 'utf8'));
    return { dir, index, manifest, config };
  }

  it('builds the classic image: one tar layer holding /wasi-demo-app.wasm (0755) as entrypoint', () => {
    const { dir, index, manifest, config } = unpack('img.tar');
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe(
      'ghcr.io/runwasi-ts/wasi-demo-app:latest',
    );
    expect(manifest.layers).toHaveLength(1);
    expect(manifest.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
    expect(config).toMatchObject({
      os: 'wasip1',
      architecture: 'wasm',
      config: { Entrypoint: ['/wasi-demo-app.wasm'] },
      rootfs: { type: 'layers', diff_ids: [manifest.layers[0].digest] },
    });
    const listing = tar(['-tvf', blob(dir, manifest.layers[0].digest)]);
    expect(listing).toMatch(/^-rwxr-xr-x 0\/0 +\d+ 1970-01-01 00:00 wasi-demo-app\.wasm$/m);
  });

  it('builds the wasm-layer image with the module bytes as its only layer', () => {
    const { dir, manifest, config } = unpack('img-oci.tar');
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
      'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm',
    ]);
    expect(readFileSync(blob(dir, manifest.layers[0].digest)).equals(readFileSync(WASM))).toBe(true);
    expect(config.config.Labels).toHaveProperty(['containerd.runwasi.layers']);
  });

  it('builds the CNCF artifact with the wasm config media type', () => {
    const { manifest, config } = unpack('img-oci-artifact.tar');
    expect(manifest.config.mediaType).toBe('application/vnd.wasm.config.v0+json');
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual(['application/wasm']);
    expect(config).toMatchObject({
      os: 'wasip1',
      architecture: 'wasm',
      layerDigests: [manifest.layers[0].digest],
    });
  });

  it('builds the component images: the command and the wasi:http component, classic and as a wasm layer', () => {
    const component = unpack('img-component.tar');
    expect(component.config.config.Entrypoint).toEqual(['/wasi-demo-component.wasm']);
    expect(tar(['-tf', blob(component.dir, component.manifest.layers[0].digest)])).toMatch(/^wasi-demo-component\.wasm$/m);
    const http = unpack('img-http.tar');
    expect(http.config.config.Entrypoint).toEqual(['/wasi-http-demo.wasm']);
    const httpLayer = unpack('img-http-oci.tar');
    expect(httpLayer.manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
      'application/vnd.bytecodealliance.wasm.component.layer.v0+wasm',
    ]);
    expect(
      readFileSync(blob(httpLayer.dir, httpLayer.manifest.layers[0].digest)).equals(readFileSync(HTTP_COMPONENT)),
    ).toBe(true);
  });
});

describe('the components', () => {
  // A component's preamble: the wasm magic, then version 0x0d and layer 1 (a core module has 1, 0).
  const COMPONENT_PREAMBLE = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);

  it.each([
    ['the command component', 'wasi-demo-app.component.wasm', 'wasi:cli/run'],
    ['the wasi:http component', 'wasi-http-demo.wasm', 'wasi:http/incoming-handler'],
  ])('%s is a component exporting its world', (_what, file, exported) => {
    const bytes = readFileSync(join(PKG, 'dist-wasm', file));
    expect(bytes.subarray(0, 8).equals(COMPONENT_PREAMBLE)).toBe(true);
    // Export names are stored as plain strings in the component's export section.
    expect(bytes.includes(Buffer.from(exported))).toBe(true);
  });

  it('leaves the preview1 module a core module', () => {
    expect(readFileSync(WASM).subarray(4, 8).equals(Buffer.from([0x01, 0x00, 0x00, 0x00]))).toBe(true);
  });
});
