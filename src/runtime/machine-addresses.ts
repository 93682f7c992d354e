import { hostname, networkInterfaces } from "node:os";

/**
 * This machine's host name and interface addresses (IPv6 ones without a
 * zone), leaving out what `may` says the runtime may not read, and anything
 * that fails to read: a shorter list, never an error or a prompt.
 */
export function machineAddresses(may: (what: "hostname" | "networkInterfaces") => boolean): string[] {
  const found: string[] = [];
  try {
    if (may("hostname")) found.push(hostname());
  } catch {
    // not readable here
  }
  try {
    if (may("networkInterfaces")) {
      for (const list of Object.values(networkInterfaces())) {
        for (const info of list ?? []) found.push(info.address.replace(/%.*$/, ""));
      }
    }
  } catch {
    // not readable here
  }
  return found.filter((name) => name !== "");
}
