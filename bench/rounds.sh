# Sourced by the benchmarks that measure servers side by side in rounds (kms-h2load.sh, api-patch-wrk.sh): each
# server's CPU time from /proc, and the median of a file of figures.

# The clock ticks per second that /proc/PID/stat counts CPU time in.
ticks=$(getconf CLK_TCK)

# The CPU time (user + system, in ticks) used so far by server $1 of the caller's array "servers" (PIDs).
cpu() { awk '{ print $14 + $15 }' "/proc/${servers[$1]}/stat"; }

# The median of the numbers in file $1, one per line.
median() { sort -n "$1" | awk '{ r[NR] = $1 } END { print (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }
