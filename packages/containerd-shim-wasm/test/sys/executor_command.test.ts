import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { EXECUTOR_ACTION, EXECUTOR_WRAPPER_ENV, executorCommand } from '../../src/sys/unix/container/executor';
import { shimSettings } from '../../src/sys/unix/container/executor_process';

describe('executorCommand', () => {
  it('starts Node directly when no wrapper is set', () => {
    const command = executorCommand('/engine/dist/main.js', ['--inspect=0'], {});
    expect(command.file).toBe(process.execPath);
    expect(command.args.slice(-3)).toEqual(['--inspect=0', '/engine/dist/main.js', EXECUTOR_ACTION]);
  });

  it('puts the wrapper of RUNWASI_EXECUTOR_WRAPPER before Node and its arguments', () => {
    const direct = executorCommand('/engine/dist/main.js', [], {});
    const wrapped = executorCommand('/engine/dist/main.js', [], { [EXECUTOR_WRAPPER_ENV]: '/opt/tree/with-libs' });
    expect(wrapped).toEqual({ file: '/opt/tree/with-libs', args: [process.execPath, ...direct.args] });
  });

  it('makes a command that really runs through the wrapper', () => {
    const dir = mkdtempSync(join(tmpdir(), 'executor-wrapper-'));
    try {
      const wrapper = join(dir, 'wrapper');
      writeFileSync(wrapper, '#!/bin/sh\necho "wrapped $#"\n');
      chmodSync(wrapper, 0o755);
      const command = executorCommand('/engine/dist/main.js', [], { [EXECUTOR_WRAPPER_ENV]: wrapper });
      const result = spawnSync(command.file, command.args, { encoding: 'utf8' });
      expect(result.stdout).toBe(`wrapped ${command.args.length}\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('shimSettings', () => {
  it('passes only the variables the engine names to container processes', () => {
    const env = { RUNWASI_WASMTIME_CONFIG: '/etc/x.toml', RUNWASI_LOG_LEVEL: 'debug', PATH: '/usr/bin', SECRET_TOKEN: 's' };
    expect(shimSettings(env, ['RUNWASI_WASMTIME_CONFIG', 'UNSET_ONE'])).toEqual({ RUNWASI_WASMTIME_CONFIG: '/etc/x.toml' });
    expect(shimSettings(env, [])).toEqual({});
  });
});
