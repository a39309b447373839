/** A host name that means this machine: `localhost`, 127.0.0.0/8, `::1` (brackets allowed), or a Unix socket's directory. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return h === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::1' || h.startsWith('/');
}
