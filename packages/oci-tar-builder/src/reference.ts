import { InvalidInputError } from './errors.js';

/** An image name split into its parts. */
export interface ImageReference {
  /** Repository including any registry host, e.g. `ghcr.io/runwasi-ts/wasi-demo-app`. */
  repository: string;
  /** Tag, e.g. `latest`. */
  tag: string;
  /** `repository:tag`. */
  name: string;
}

const DOMAIN_LABEL = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PORT = /^[0-9]+$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * Parses and validates an image name the way container tools do (Docker reference grammar,
 * tags only). A missing tag means `latest`.
 *
 * @param input - e.g. `ghcr.io/runwasi-ts/wasi-demo-app:latest` or `localhost:5000/app`
 * @throws InvalidInputError for names containers tools would refuse, and for digest references
 */
export function parseImageReference(input: string): ImageReference {
  const fail = (why: string): never => {
    throw new InvalidInputError(`invalid image name ${JSON.stringify(input)}: ${why}`);
  };
  if (input.includes('@')) fail('digest references are not supported, use a tag');
  // The tag is after the last ':' only if no '/' follows it; otherwise that ':' is a port.
  const colon = input.lastIndexOf(':');
  const hasTag = colon > input.lastIndexOf('/');
  const repository = hasTag ? input.slice(0, colon) : input;
  const tag = hasTag ? input.slice(colon + 1) : 'latest';
  if (!TAG.test(tag)) fail('bad tag');
  const parts = repository.split('/');
  const first = parts[0] ?? '';
  // Same rule as Docker: the first component is a registry host only if it looks like one.
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    const [host, port, ...rest] = first.split(':');
    if (rest.length > 0 || (port !== undefined && !PORT.test(port))) fail('bad registry port');
    if (!(host ?? '').split('.').every((label) => DOMAIN_LABEL.test(label))) fail('bad registry host');
    parts.shift();
  }
  if (parts.length === 0 || !parts.every((part) => PATH_COMPONENT.test(part))) {
    fail('repository path components must be lowercase letters, digits and separators');
  }
  if (repository.length > 255) fail('repository name longer than 255 characters');
  return { repository, tag, name: `${repository}:${tag}` };
}
