import { homeOf } from '../util/home.js';
import path from 'node:path';

/** Where a configuration file was found, or would be written. */
export interface ConfigLocation {
  path: string;
  /** How the path was chosen: the search order of docs/design.md §3. */
  origin: '--config' | 'EOS_CONFIG' | 'xdg' | 'etc';
  /** The user named this file (flag or variable): it must exist to be read. */
  explicit: boolean;
}

export interface ConfigSearch {
  flag?: string | undefined;
  env: NodeJS.ProcessEnv;
  home?: string;
  /** The system-wide file; a parameter so tests need not write to /etc. */
  etcPath?: string;
  exists: (file: string) => boolean;
}

export const ETC_CONFIG_PATH = '/etc/eos/config.json';

/** The per-user file: $XDG_CONFIG_HOME/eos/config.json, else ~/.config/eos/config.json. */
export function userConfigPath(env: NodeJS.ProcessEnv, home = homeOf(env)): string {
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec says a relative value is invalid and must be ignored.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.config');
  return path.join(base, 'eos', 'config.json');
}

/**
 * The search order: --config, $EOS_CONFIG, the per-user file, /etc/eos/config.json.
 * An explicit path is returned whether or not it exists (the loader reports a missing one);
 * otherwise the first file that exists, else the per-user path as the place to write one.
 */
export function locateConfig(search: ConfigSearch): { location: ConfigLocation; found: boolean } {
  if (search.flag) {
    return { location: { path: path.resolve(search.flag), origin: '--config', explicit: true }, found: search.exists(search.flag) };
  }
  if (search.env.EOS_CONFIG) {
    const file = path.resolve(search.env.EOS_CONFIG);
    return { location: { path: file, origin: 'EOS_CONFIG', explicit: true }, found: search.exists(file) };
  }
  const user = userConfigPath(search.env, search.home);
  if (search.exists(user)) return { location: { path: user, origin: 'xdg', explicit: false }, found: true };
  const etc = search.etcPath ?? ETC_CONFIG_PATH;
  if (search.exists(etc)) return { location: { path: etc, origin: 'etc', explicit: false }, found: true };
  return { location: { path: user, origin: 'xdg', explicit: false }, found: false };
}
