using System.Runtime.Versioning;

// File modes, Unix sockets and signals are part of what these tests check.
[assembly: UnsupportedOSPlatform("windows")]
