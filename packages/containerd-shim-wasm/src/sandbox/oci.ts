/**
 * Reading the OCI runtime spec (`config.json`) of a bundle, with errors that say what is wrong.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import { invalidArgument } from './error.js';

/** The parts of an OCI `process` object the shim uses. */
export interface OciProcess {
  terminal?: boolean;
  args?: string[];
  env?: string[];
  cwd?: string;
}

/**
 * A namespace entry of `linux.namespaces`.
 * @inline
 */
export interface OciNamespace {
  type: string;
  path?: string;
}

/** The parts of an OCI runtime spec the shim uses. Unknown fields are kept untouched. */
export interface OciSpec {
  ociVersion?: string;
  process?: OciProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  annotations?: Record<string, string>;
  linux?: {
    cgroupsPath?: string;
    namespaces?: OciNamespace[];
    resources?: Record<string, unknown>;
  };
  [key: string]: unknown;
}

/** Annotation naming a shim group (runc's convention, honoured by every containerd shim). */
export const GROUP_ANNOTATION = 'io.containerd.runc.v2.group';
/** Annotation the CRI plugin sets to the pod sandbox id on every container of a pod. */
export const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Checks the shape of a parsed spec and returns it typed; throws INVALID_ARGUMENT naming the bad field. */
export function validateSpec(value: unknown, source = 'config.json'): OciSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${source}: the OCI spec must be a JSON object`);
  }
  const spec = value as OciSpec;
  const proc = spec.process;
  if (proc !== undefined) {
    if (typeof proc !== 'object' || proc === null) throw invalidArgument(`${source}: process must be an object`);
    if (proc.args !== undefined && !isStringArray(proc.args)) {
      throw invalidArgument(`${source}: process.args must be an array of strings`);
    }
    if (proc.env !== undefined && !isStringArray(proc.env)) {
      throw invalidArgument(`${source}: process.env must be an array of strings`);
    }
    if (proc.cwd !== undefined && typeof proc.cwd !== 'string') {
      throw invalidArgument(`${source}: process.cwd must be a string`);
    }
  }
  if (spec.root !== undefined && (typeof spec.root !== 'object' || typeof spec.root?.path !== 'string')) {
    throw invalidArgument(`${source}: root.path must be a string`);
  }
  if (spec.annotations !== undefined) {
    const a = spec.annotations;
    if (typeof a !== 'object' || a === null || Object.values(a).some((v) => typeof v !== 'string')) {
      throw invalidArgument(`${source}: annotations must map strings to strings`);
    }
  }
  return spec;
}

/** Loads and validates `<bundle>/config.json`. */
export function loadSpec(bundle: string): OciSpec {
  const file = join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidArgument(`cannot read the OCI spec ${file}`, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`the OCI spec ${file} is not valid JSON`, err);
  }
  return validateSpec(parsed, file);
}

/** The host path of the container rootfs: `root.path` resolved against the bundle (default `rootfs`). */
export function rootfsPath(bundle: string, spec: OciSpec): string {
  const path = spec.root?.path ?? 'rootfs';
  return isAbsolute(path) ? path : resolve(bundle, path);
}

/** The shim group a container belongs to: runc's group annotation, the CRI sandbox id, or its own id. */
export function groupId(spec: OciSpec | undefined, id: string): string {
  const annotations = spec?.annotations ?? {};
  return annotations[GROUP_ANNOTATION] || annotations[SANDBOX_ID_ANNOTATION] || id;
}
