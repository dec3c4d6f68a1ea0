import { describe, expect, it } from "vitest";
import { haproxyRouterSchema } from "./config.js";
import { describeServers, isUnknownMap, isUsable, parseBackendCounters, parseServerStats, parseShowMap, withMapEntry } from "./runtime-answers.js";
import { describeAddress, parseRuntimeApiAddress, statsSocketLine } from "./runtime-api.js";

// Captured from HAProxy 2.6.12 (columns after check_desc left out).
const STAT_HEADER = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc";
const row = (server: string, status: string, description: string) => `shop-blue,${server},0,0,0,0,,0,0,0,,0,,0,0,0,0,${status},1,1,0,1,1,2,2,,1,4,1,,0,,2,0,,0,L4CON,,0,0,0,0,0,0,0,,,,0,0,0,,,,,-1,Connection refused,,0,0,0,0,,,,${description}`;

describe("runtime API answers", () => {
  it("reads a backend's counters from show stat: requests, 5xx answers (HAProxy's own 503s too), open sessions", () => {
    // 10 answers 2xx, 5 answers 500 from the app and 5 HAProxy 503s with no server up, as HAProxy 2.6 counted them.
    const cells = STAT_HEADER.slice(2).split(",").map(() => "");
    const set = (name: string, value: string) => (cells[STAT_HEADER.slice(2).split(",").indexOf(name)] = value);
    set("pxname", "shop-blue");
    set("svname", "BACKEND");
    set("scur", "2");
    set("hrsp_2xx", "10");
    set("hrsp_5xx", "10");
    set("req_tot", "20");
    expect(parseBackendCounters(`${STAT_HEADER}\n${cells.join(",")}\n`)).toEqual({ requests: 20, errors: 10, inFlight: 2 });
    set("req_tot", ""); // older HAProxy: the status classes add up to the requests
    expect(parseBackendCounters(`${STAT_HEADER}\n${cells.join(",")}\n`)).toEqual({ requests: 20, errors: 10, inFlight: 2 });
    expect(parseBackendCounters(`${STAT_HEADER}\n${row("blue1", "UP", "")}\n`)).toBeUndefined(); // a server row only
    expect(parseBackendCounters("No such proxy.\n")).toBeUndefined();
  });

  it("reads the entries of show map", () => {
    expect(parseShowMap("0x7f01e8047b10 shop shop-blue\n0x7f01e8047c20 other other-green\n")).toEqual([
      { key: "shop", value: "shop-blue" },
      { key: "other", value: "other-green" },
    ]);
    expect(parseShowMap("")).toEqual([]);
    expect(isUnknownMap("Unknown map identifier. Please use #<id> or <file>.")).toBe(true);
  });

  it("reads the servers of show stat, and which of them HAProxy sends requests to", () => {
    const servers = parseServerStats([STAT_HEADER, row("blue1", "DOWN", "Layer4 connection problem"), row("blue2", "no check", ""), row("blue3", "UP 1/3", "")].join("\n"));
    expect(servers).toEqual([
      { name: "blue1", status: "DOWN", checkDescription: "Layer4 connection problem" },
      { name: "blue2", status: "no check", checkDescription: "" },
      { name: "blue3", status: "UP 1/3", checkDescription: "" },
    ]);
    expect(servers?.map(isUsable)).toEqual([false, true, true]);
    expect(["MAINT", "DRAIN", "NOLB", "DOWN 1/2"].map((status) => isUsable({ name: "x", status, checkDescription: "" }))).toEqual([false, false, false, false]);
    expect(describeServers(servers ?? [])).toBe("blue1 DOWN (Layer4 connection problem), blue2 no check, blue3 UP 1/3");
    expect(parseServerStats("No such proxy.")).toBeUndefined();
    expect(parseServerStats(STAT_HEADER)).toEqual([]);
  });

  it("writes the key's line of the map file, keeping everything else", () => {
    expect(withMapEntry(undefined, "shop", "shop-blue")).toBe("shop shop-blue\n");
    expect(withMapEntry("# maps app → backend\nother other-blue\nshop   shop-blue\n", "shop", "shop-green")).toBe("# maps app → backend\nother other-blue\nshop shop-green\n");
    expect(withMapEntry("# shop shop-blue\nother x", "shop", "shop-green")).toBe("# shop shop-blue\nother x\nshop shop-green\n");
  });
});

describe("runtime API addresses", () => {
  it("reads every form `stats socket` accepts", () => {
    expect(parseRuntimeApiAddress("/run/haproxy/admin.sock")).toEqual({ kind: "unix", path: "/run/haproxy/admin.sock" });
    expect(parseRuntimeApiAddress("unix@/run/haproxy/admin.sock")).toEqual({ kind: "unix", path: "/run/haproxy/admin.sock" });
    expect(parseRuntimeApiAddress("127.0.0.1:9999")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 9999 });
    expect(parseRuntimeApiAddress("ipv4@127.0.0.1:9999")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 9999 });
    expect(parseRuntimeApiAddress("ipv6@[::1]:9999")).toEqual({ kind: "tcp", host: "::1", port: 9999 });
    expect(parseRuntimeApiAddress("haproxy.internal:9999")).toEqual({ kind: "tcp", host: "haproxy.internal", port: 9999 });
    for (const bad of ["admin.sock", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "[nope]:1", "unix@"]) expect(parseRuntimeApiAddress(bad)).toBeUndefined();
  });

  it("names the stats socket line for each", () => {
    const ipv6 = parseRuntimeApiAddress("[::1]:9999");
    expect(ipv6 && describeAddress(ipv6)).toBe("[::1]:9999");
    expect(ipv6 && statsSocketLine(ipv6)).toBe("stats socket ipv6@[::1]:9999 level admin");
  });
});

describe("haproxy config", () => {
  const problems = (extra: Record<string, unknown>) => {
    const parsed = haproxyRouterSchema.safeParse({ kind: "haproxy", runtimeApi: "/run/haproxy/admin.sock", map: "/etc/haproxy/flip.map", ...extra });
    return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  };

  it("has defaults for everything but the socket and the map", () => {
    expect(haproxyRouterSchema.parse({ kind: "haproxy", runtimeApi: "127.0.0.1:9999", map: "/etc/haproxy/flip.map" })).toEqual({
      kind: "haproxy",
      runtimeApi: "127.0.0.1:9999",
      map: "/etc/haproxy/flip.map",
      backends: {},
      persistMap: true,
      timeout: 5_000,
      pollInterval: 100,
    });
  });

  it("refuses a relative map, an address that is not one, and one backend for both slots", () => {
    expect(problems({ map: "flip.map" })).toEqual(["map: expected the absolute path haproxy.cfg loads the map from, e.g. /etc/haproxy/flip.map"]);
    expect(problems({ runtimeApi: "admin.sock" })).toHaveLength(1);
    expect(problems({ backends: { blue: "app", green: "app" } })).toEqual(["backends: blue and green need two different backends: the switch moves traffic from one to the other"]);
    expect(problems({ backends: { blue: "app blue" } })).toHaveLength(1);
  });
});
