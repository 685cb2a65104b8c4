using System.Runtime.Versioning;

// The integration tests drive Unix processes, signals, sockets and file modes.
[assembly: UnsupportedOSPlatform("windows")]
