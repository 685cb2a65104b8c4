using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Sqlite;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Stores;

public sealed class SqliteStoreTests : SecretStoreContract, IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly List<SqliteSecretStore> _opened = [];

    private string DatabasePath => _directory.Combine("data", "secrets.db");

    public void Dispose()
    {
        foreach (var store in _opened)
        {
            store.Dispose();
        }

        _directory.Dispose();
    }

    // The contract's calls measure no time: a clock that stands still keeps the store's wait behind its own earlier
    // writes (BusyTimeout) from running out because the machine is slow, as it did for fifty concurrent writers on a
    // loaded machine. The tests of that wait below use the system's clock.
    protected override ISecretStore OpenStore() => Open(DatabasePath, time: new FakeTimeProvider());

    [Fact]
    public async Task Records_and_revisions_survive_reopening_the_file()
    {
        var store = Open(DatabasePath);
        var created = await store.CreateAsync("kept", "v1"u8.ToArray());
        var updated = await store.UpdateAsync("kept", "v2"u8.ToArray(), created);
        await store.CreateAsync("gone", "x"u8.ToArray());
        await store.DeleteAsync("gone");
        store.Dispose();

        var reopened = Open(DatabasePath);
        var entry = await reopened.GetAsync("kept");
        var next = await reopened.CreateAsync("later", "y"u8.ToArray());

        Assert.Equal(("v2", updated), (System.Text.Encoding.UTF8.GetString(entry!.Value.Span), entry.Revision));
        Assert.Null(await reopened.GetAsync("gone"));
        Assert.True(next > updated + 1, "a revision used before the reopen came back");
    }

    [Fact]
    public async Task Records_on_a_damaged_page_fail_as_unavailable_naming_the_file_and_the_health_check_reports_the_damage()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("kept", RandomNumberGenerator.GetBytes(200));
        store.Dispose();
        SqliteConnection.ClearAllPools();

        // Bytes overwritten inside the records' page (page 2; the file header and the revision counter's page stay whole).
        using (var file = new FileStream(DatabasePath, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = (2 * 4096) - 400;
            file.Write(Enumerable.Repeat((byte)0xA5, 300).ToArray());
        }

        var reopened = Open(DatabasePath);
        var read = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.GetAsync("kept"));
        var health = await reopened.CheckHealthAsync();

        Assert.StartsWith($"The SQLite store '{DatabasePath}' is unavailable: SQLite Error 11: 'database disk image is malformed'.", read.Message, StringComparison.Ordinal);
        Assert.True(health.IsDegraded, health.Description);
        Assert.Contains(DatabasePath, health.Description, StringComparison.Ordinal);
        Assert.Contains("malformed", health.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reads_before_the_file_exists_find_nothing_and_create_nothing_until_the_first_write()
    {
        var store = Open(DatabasePath);

        var missing = await store.GetAsync("absent");
        var page = await store.ListAsync(string.Empty, startAfter: null, limit: 10);
        var created = File.Exists(DatabasePath) || File.Exists(DatabasePath + ".lock");
        await store.CreateAsync("first", "v"u8.ToArray());

        Assert.Null(missing);
        Assert.Empty(page.Entries);
        Assert.False(created, "a read created the database or its lock file");
        Assert.Equal("first", Assert.Single((await store.ListAsync(string.Empty, startAfter: null, limit: 10)).Entries).Key);
    }

    [Fact]
    public async Task The_empty_temporary_file_a_process_killed_while_creating_the_database_left_beside_it_is_deleted_when_the_store_opens_it()
    {
        // What a trousseaud killed during its first start leaves when the kill falls between the creation of the
        // empty database file beside the path and its rename onto the path; another start could be killed so too.
        Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
        string[] leftovers = [$"{DatabasePath}.{Guid.NewGuid():N}.tmp", $"{DatabasePath}.{Guid.NewGuid():N}.tmp"];
        var unrelated = DatabasePath + ".notes.tmp";
        foreach (var file in leftovers.Append(unrelated))
        {
            File.WriteAllBytes(file, []);
        }

        var store = Open(DatabasePath);
        await store.CreateAsync("first", "v"u8.ToArray());

        Assert.Equal([Path.GetFileName(unrelated)], leftovers.Append(unrelated).Where(File.Exists).Select(Path.GetFileName));
        Assert.Equal("first", Assert.Single((await store.ListAsync(string.Empty, startAfter: null, limit: 10)).Entries).Key);
    }

    [Fact]
    public async Task The_database_uses_write_ahead_logging()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("one", "v"u8.ToArray());

        using var connection = new SqliteConnection($"Data Source={DatabasePath};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";

        Assert.Equal("wal", (string)command.ExecuteScalar()!);
    }

    [Fact]
    public async Task The_database_its_write_ahead_files_and_its_lock_file_are_created_owner_only()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("canary", "v"u8.ToArray());

        foreach (var file in new[] { DatabasePath, DatabasePath + "-wal", DatabasePath + "-shm", DatabasePath + ".lock" })
        {
            Assert.Equal((file, UnixFileMode.UserRead | UnixFileMode.UserWrite), (file, File.GetUnixFileMode(file)));
        }
    }

    [Fact]
    public async Task A_second_store_on_the_same_file_is_refused_as_unavailable_until_the_first_closes()
    {
        var first = Open(DatabasePath);
        await first.CreateAsync("owned", "v"u8.ToArray());
        var second = Open(DatabasePath);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await second.GetAsync("owned"));
        Assert.Contains(DatabasePath, error.Message, StringComparison.Ordinal);

        first.Dispose();
        Assert.Equal("v"u8.ToArray(), (await second.GetAsync("owned"))!.Value.ToArray());
    }

    [Fact]
    public async Task A_second_store_reaching_the_same_file_through_a_symbolic_link_is_refused_too()
    {
        var first = Open(DatabasePath);
        await first.CreateAsync("owned", "v"u8.ToArray());
        var link = _directory.Combine("data", "alias.db");
        File.CreateSymbolicLink(link, DatabasePath);
        var second = Open(link);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await second.GetAsync("owned"));

        Assert.Contains("in use by another process or store instance", error.Message, StringComparison.Ordinal);
        Assert.Contains(link, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("-wal", true)]
    [InlineData("-shm", true)]
    [InlineData(".lock", false)]
    public async Task A_symbolic_link_planted_before_the_first_call_in_a_directory_others_may_write_is_refused_naming_it_and_where_it_leads_is_left_as_it_was(
        string suffix, bool targetExists)
    {
        var directory = Directory.CreateDirectory(_directory.Combine("shared")).FullName;
        File.SetUnixFileMode(directory, (UnixFileMode)0x1FF);
        var database = Path.Combine(directory, "store.db");
        var store = Open(database);
        var target = _directory.Combine("outside", "someone-elses-file");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        const UnixFileMode readableByAll = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        if (targetExists)
        {
            await File.WriteAllTextAsync(target, "not trousseau's\n");
            File.SetUnixFileMode(target, readableByAll);
        }

        var link = database + suffix;
        File.CreateSymbolicLink(link, target);

        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.CreateAsync("planted", "v"u8.ToArray()));

        Assert.Contains(
            $"{link} is a symbolic link (to {target}) in the directory {directory}, which group or others may write (mode 0777)",
            error.Message,
            StringComparison.Ordinal);
        string[] leftThere = targetExists ? [target] : [];
        Assert.Equal(leftThere, Directory.GetFileSystemEntries(Path.GetDirectoryName(target)!));
        if (targetExists)
        {
            Assert.Equal(("not trousseau's\n", readableByAll), (await File.ReadAllTextAsync(target), File.GetUnixFileMode(target)));
        }

        var health = await store.CheckHealthAsync();
        Assert.Equal((false, error.Message), (health.IsHealthy, health.Description));
    }

    [Fact]
    public async Task Concurrent_writers_leave_no_more_open_database_files_behind_than_one_writer_does()
    {
        var store = Open(DatabasePath, time: new FakeTimeProvider());
        await store.CreateAsync("warm", "v"u8.ToArray());
        await store.GetAsync("warm");
        var before = OpenDescriptorsOf(DatabasePath);

        // As requests do, each write runs on a thread of its own; those queued behind the one writing wait meanwhile.
        const int Writers = 200;
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(i => Task.Run(() => store.CreateAsync($"burst/{i}", "v"u8.ToArray()).AsTask())));
        var after = OpenDescriptorsOf(DatabasePath);

        Assert.True(
            after <= before + 2,
            $"{after} descriptors of {DatabasePath} are open after {Writers} concurrent writes, {before} before: each queued writer opened a connection of its own, and the pool keeps them.");
    }

    [Fact]
    public async Task Writes_queued_behind_a_lock_held_by_another_process_each_give_up_after_the_busy_timeout_not_one_after_another()
    {
        var store = Open(DatabasePath, busyTimeout: TimeSpan.FromSeconds(1));
        var revisions = new List<long>();
        for (var i = 0; i < 8; i++)
        {
            revisions.Add(await store.CreateAsync($"queued/{i}", "v1"u8.ToArray()));
        }

        // Another process (sqlite3, a backup tool) holds the write lock for five busy timeouts. Writes queued one
        // after another would wait one timeout each, and the last three would outlast the lock and go through.
        using var holder = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        holder.Open();
        using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.ExecuteNonQuery();
        }

        // A write waits for SQLite's lock on the calling thread, so each starts on a thread of its own, as requests do.
        var writes = revisions.Select((revision, i) => Task.Run(() => store.UpdateAsync($"queued/{i}", "v2"u8.ToArray(), revision).AsTask())).ToList();
        await Task.WhenAny(Task.WhenAll(writes), Task.Delay(TimeSpan.FromSeconds(5)));
        using (var rollback = holder.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        foreach (var write in writes)
        {
            var error = await Assert.ThrowsAsync<DependencyUnavailableException>(() => write);
            Assert.StartsWith($"The SQLite store '{DatabasePath}' is ", error.Message, StringComparison.Ordinal);
            Assert.Contains("waited BusyTimeout (00:00:01)", error.Message, StringComparison.Ordinal);
        }

        Assert.True(await store.UpdateAsync("queued/0", "v2"u8.ToArray(), revisions[0]) > revisions[^1]);
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_reported_as_such_on_every_call_left_unchanged_and_replacing_it_recovers()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
        var garbage = "this is not a database, just text that is long enough to have a header"u8.ToArray();
        await File.WriteAllBytesAsync(DatabasePath, garbage);
        var store = Open(DatabasePath);

        var first = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.GetAsync("any"));
        var again = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.CreateAsync("any", "v"u8.ToArray()));
        var health = await store.CheckHealthAsync();

        Assert.All(
            new[] { first.Message, again.Message, health.Description },
            message => Assert.Contains($"'{DatabasePath}'", message, StringComparison.Ordinal));
        Assert.All(
            new[] { first.Message, again.Message, health.Description },
            message => Assert.Contains("not a database", message, StringComparison.Ordinal));
        Assert.Equal(garbage, await File.ReadAllBytesAsync(DatabasePath));

        File.Delete(DatabasePath);
        await store.CreateAsync("any", "v"u8.ToArray());
        Assert.Equal("v"u8.ToArray(), (await store.GetAsync("any"))!.Value.ToArray());
    }

    [Fact]
    public async Task A_database_file_replaced_while_open_is_reported_unhealthy_every_call_is_refused_and_putting_it_back_recovers()
    {
        var store = Open(DatabasePath);
        var revision = await store.CreateAsync("kept", "v1"u8.ToArray());
        var restored = _directory.Combine("restored.db");
        var moved = _directory.Combine("moved.db");
        File.Copy(DatabasePath, restored);
        File.Move(DatabasePath, moved);
        File.Move(restored, DatabasePath);

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.UpdateAsync("kept", "v2"u8.ToArray(), revision));
        var health = await store.CheckHealthAsync();
        var read = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.GetAsync("kept"));

        Assert.StartsWith($"The SQLite store '{DatabasePath}' is no longer the file this store opened", refused.Message, StringComparison.Ordinal);
        Assert.Equal((false, refused.Message), (health.IsHealthy, health.Description));
        Assert.Equal(refused.Message, read.Message);

        File.Move(DatabasePath, restored);
        File.Move(moved, DatabasePath);
        Assert.Equal("v1"u8.ToArray(), (await store.GetAsync("kept"))!.Value.ToArray());
        var updated = await store.UpdateAsync("kept", "v2"u8.ToArray(), revision);
        Assert.True((await store.CheckHealthAsync()).IsHealthy);
        store.Dispose();
        var reopened = Open(DatabasePath);
        Assert.Equal(("v2", updated), (System.Text.Encoding.UTF8.GetString((await reopened.GetAsync("kept"))!.Value.Span), (await reopened.GetAsync("kept"))!.Revision));
    }

    [Fact]
    public async Task A_database_file_removed_while_open_is_reported_unhealthy_and_writes_are_refused_not_lost()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("kept", "v1"u8.ToArray());
        File.Delete(DatabasePath);

        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.CreateAsync("later", "v"u8.ToArray()));
        var health = await store.CheckHealthAsync();

        Assert.StartsWith($"The SQLite store '{DatabasePath}' is no longer the file this store opened", refused.Message, StringComparison.Ordinal);
        Assert.False(health.IsHealthy);
        Assert.False(File.Exists(DatabasePath));
    }

    [Fact]
    public async Task A_write_ahead_log_removed_while_open_has_its_writes_copied_into_the_database_and_further_writes_are_refused()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("acknowledged", "v1"u8.ToArray());
        File.Delete(DatabasePath + "-wal");

        var health = await store.CheckHealthAsync();
        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.CreateAsync("later", "v2"u8.ToArray()));

        // What a crash (kill -9) would now leave: the database file alone, the removed log gone with the process.
        var leftByACrash = _directory.Combine("crash", "secrets.db");
        Directory.CreateDirectory(Path.GetDirectoryName(leftByACrash)!);
        File.Copy(DatabasePath, leftByACrash);
        Assert.StartsWith($"The SQLite store '{DatabasePath}' lost its write-ahead log", refused.Message, StringComparison.Ordinal);
        Assert.Equal((false, refused.Message), (health.IsHealthy, health.Description));
        Assert.Equal("v1"u8.ToArray(), (await Open(leftByACrash).GetAsync("acknowledged"))?.Value.ToArray());
    }

    [Fact]
    public async Task A_database_cut_short_is_reported_as_malformed_naming_the_file_and_is_left_unchanged()
    {
        var store = Open(DatabasePath);
        for (var i = 0; i < 50; i++)
        {
            await store.CreateAsync($"record/{i:D2}", RandomNumberGenerator.GetBytes(2048));
        }

        store.Dispose();
        using (var file = new FileStream(DatabasePath, FileMode.Open))
        {
            file.SetLength(8192);
        }

        var truncated = await File.ReadAllBytesAsync(DatabasePath);
        var reopened = Open(DatabasePath);

        var read = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.GetAsync("record/49"));
        var write = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.CreateAsync("record/new", "v"u8.ToArray()));
        reopened.Dispose();

        Assert.All(new[] { read.Message, write.Message }, message => Assert.Contains($"The SQLite store '{DatabasePath}' is unavailable", message, StringComparison.Ordinal));
        Assert.All(new[] { read.Message, write.Message }, message => Assert.Contains("malformed", message, StringComparison.Ordinal));
        Assert.Equal(truncated, await File.ReadAllBytesAsync(DatabasePath));
    }

    [Fact]
    public async Task A_database_file_the_process_cannot_write_is_reported_unhealthy_and_writable_again_once_its_mode_is_fixed()
    {
        var store = Open(DatabasePath);
        var revision = await store.CreateAsync("kept", "v1"u8.ToArray());
        store.Dispose();
        await WriteProtectAsync(DatabasePath, protect: true);
        try
        {
            var reopened = Open(DatabasePath);

            var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.UpdateAsync("kept", "v2"u8.ToArray(), revision));
            var health = await reopened.CheckHealthAsync();
            var read = await reopened.GetAsync("kept");

            Assert.Contains($"'{DatabasePath}' is read-only", refused.Message, StringComparison.Ordinal);
            Assert.Equal((false, refused.Message), (health.IsHealthy, health.Description));
            Assert.Equal("v1"u8.ToArray(), read!.Value.ToArray());

            await WriteProtectAsync(DatabasePath, protect: false);
            await reopened.UpdateAsync("kept", "v2"u8.ToArray(), revision);
            Assert.True((await reopened.CheckHealthAsync()).IsHealthy);
        }
        finally
        {
            await WriteProtectAsync(DatabasePath, protect: false);
        }
    }

    [Fact]
    public async Task A_database_and_lock_file_the_process_cannot_write_as_on_a_read_only_mount_still_answer_reads_and_refuse_writes_as_read_only()
    {
        var store = Open(DatabasePath);
        var revision = await store.CreateAsync("kept", "v1"u8.ToArray());
        store.Dispose();
        var lockFile = DatabasePath + ".lock";
        await WriteProtectAsync(DatabasePath, protect: true);
        await WriteProtectAsync(lockFile, protect: true);
        try
        {
            var reopened = Open(DatabasePath);

            var read = await reopened.GetAsync("kept");
            var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.UpdateAsync("kept", "v2"u8.ToArray(), revision));
            var second = Open(DatabasePath);
            var inUse = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await second.GetAsync("kept"));

            Assert.Equal("v1"u8.ToArray(), read!.Value.ToArray());
            Assert.Contains($"'{DatabasePath}' is read-only", refused.Message, StringComparison.Ordinal);
            Assert.Contains("in use by another process or store instance", inUse.Message, StringComparison.Ordinal);
        }
        finally
        {
            await WriteProtectAsync(lockFile, protect: false);
            await WriteProtectAsync(DatabasePath, protect: false);
        }
    }

    [Fact]
    public async Task A_store_read_while_its_files_were_read_only_writes_again_once_they_are_writable()
    {
        var store = Open(DatabasePath);
        var revision = await store.CreateAsync("kept", "v1"u8.ToArray());
        store.Dispose();

        // What a read-only mount leaves: every file there, the write-ahead log's index among them, opened read-only.
        string[] files = [DatabasePath, DatabasePath + ".lock", DatabasePath + "-shm"];
        await File.WriteAllBytesAsync(DatabasePath + "-shm", new byte[32 * 1024]);
        foreach (var file in files)
        {
            await WriteProtectAsync(file, protect: true);
        }

        var reopened = Open(DatabasePath);
        try
        {
            Assert.Equal("v1"u8.ToArray(), (await reopened.GetAsync("kept"))!.Value.ToArray());
            var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.UpdateAsync("kept", "v2"u8.ToArray(), revision));
            Assert.Contains($"'{DatabasePath}' is read-only", refused.Message, StringComparison.Ordinal);
            Assert.Equal("v1"u8.ToArray(), (await reopened.GetAsync("kept"))!.Value.ToArray());
        }
        finally
        {
            foreach (var file in files)
            {
                await WriteProtectAsync(file, protect: false);
            }
        }

        Assert.True(await reopened.UpdateAsync("kept", "v2"u8.ToArray(), revision) > revision);
        Assert.True((await reopened.CheckHealthAsync()).IsHealthy);
    }

    [Fact]
    public async Task A_directory_the_process_cannot_write_is_named_as_the_cause_and_the_store_opens_once_it_is_writable()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("kept", "v1"u8.ToArray());
        store.Dispose();
        var directory = Path.GetDirectoryName(DatabasePath)!;
        Assert.False(File.Exists(DatabasePath + "-wal"), "the last close should have removed the write-ahead log");
        await WriteProtectAsync(directory, protect: true);
        try
        {
            var reopened = Open(DatabasePath);

            var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.GetAsync("kept"));

            Assert.Contains($"The SQLite store '{DatabasePath}' is unavailable", refused.Message, StringComparison.Ordinal);
            Assert.Contains($"the directory {directory}", refused.Message, StringComparison.Ordinal);

            await WriteProtectAsync(directory, protect: false);
            Assert.Equal("v1"u8.ToArray(), (await reopened.GetAsync("kept"))!.Value.ToArray());
        }
        finally
        {
            await WriteProtectAsync(directory, protect: false);
        }
    }

    [Fact]
    public async Task A_write_sqlite_must_roll_back_in_a_directory_the_process_cannot_write_names_the_directory_and_is_rolled_back_once_it_is_writable()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("kept", "v1"u8.ToArray());
        store.Dispose();
        var directory = Path.GetDirectoryName(DatabasePath)!;

        // A process killed in the middle of a write under a rollback journal (a creation of the file cut short, before
        // it is switched to write-ahead logging, or sqlite3 run on it so) leaves a journal SQLite must roll back and
        // then delete before it reads the file again; a directory that refuses the deletion gives SQLite's bare
        // "disk I/O error".
        var killed = await ChildProcess.RunAsync(new System.Diagnostics.ProcessStartInfo("python3", ["-c", """
            import os, sqlite3, sys
            db = sqlite3.connect(sys.argv[1], isolation_level=None)
            db.execute("PRAGMA journal_mode = DELETE")
            db.execute("PRAGMA cache_size = 1")
            db.execute("BEGIN IMMEDIATE")
            for _ in range(40):
                db.execute("UPDATE secrets SET value = randomblob(20000)")
            os._exit(0)
            """, DatabasePath]));
        Assert.True(killed.ExitCode == 0 && File.Exists(DatabasePath + "-journal"), $"no journal was left: {killed.Stderr}");
        await WriteProtectAsync(directory, protect: true);
        try
        {
            var reopened = Open(DatabasePath);

            var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.GetAsync("kept"));
            var health = await reopened.CheckHealthAsync();

            Assert.Contains($"The SQLite store '{DatabasePath}' is unavailable", refused.Message, StringComparison.Ordinal);
            Assert.Contains($"{DatabasePath}-journal", refused.Message, StringComparison.Ordinal);
            Assert.Contains($"the directory {directory}", refused.Message, StringComparison.Ordinal);
            Assert.Equal((false, refused.Message), (health.IsHealthy, health.Description));

            await WriteProtectAsync(directory, protect: false);
            Assert.Equal("v1"u8.ToArray(), (await reopened.GetAsync("kept"))!.Value.ToArray());
            Assert.False(File.Exists(DatabasePath + "-journal"), "the journal was not rolled back and removed");
        }
        finally
        {
            await WriteProtectAsync(directory, protect: false);
        }
    }

    /// <summary>
    /// Makes a file or directory unwritable for this process: no write permission for its owner, or, for root (whom
    /// modes do not stop), the immutable attribute.
    /// </summary>
    private static async Task WriteProtectAsync(string path, bool protect)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            var mode = File.GetUnixFileMode(path);
            File.SetUnixFileMode(path, protect ? mode & ~UnixFileMode.UserWrite : mode | UnixFileMode.UserWrite);
            return;
        }

        var chattr = await ChildProcess.RunAsync(new System.Diagnostics.ProcessStartInfo("chattr", [protect ? "+i" : "-i", path]));
        Assert.True(chattr.ExitCode == 0, $"chattr could not change {path}: {chattr.Stderr}");
    }

    [Fact]
    public async Task A_database_of_a_newer_schema_version_is_refused_naming_the_file_and_its_version_and_left_unchanged()
    {
        var store = Open(DatabasePath);
        await store.CreateAsync("kept", "v1"u8.ToArray());
        store.Dispose();
        Execute("PRAGMA user_version = 3;");
        var before = await File.ReadAllBytesAsync(DatabasePath);
        var reopened = Open(DatabasePath);

        var read = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.GetAsync("kept"));
        var write = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await reopened.CreateAsync("new", "v"u8.ToArray()));
        var health = await reopened.CheckHealthAsync();
        reopened.Dispose();

        Assert.StartsWith($"The SQLite store '{DatabasePath}' has schema version 3, newer than this build's 2", read.Message, StringComparison.Ordinal);
        Assert.Equal((read.Message, false, read.Message), (write.Message, health.IsHealthy, health.Description));
        Assert.Equal(before, await File.ReadAllBytesAsync(DatabasePath));
    }

    [Fact]
    public async Task A_database_of_another_application_is_refused_naming_the_file_and_gets_no_table_of_ours()
    {
        Execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('ada');");
        var store = Open(DatabasePath);

        var read = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.GetAsync("any"));
        var write = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.CreateAsync("any", "v"u8.ToArray()));
        var health = await store.CheckHealthAsync();
        store.Dispose();

        Assert.StartsWith($"The SQLite store '{DatabasePath}' is a database of another application: it holds the table customers", read.Message, StringComparison.Ordinal);
        Assert.Equal((read.Message, false, read.Message), (write.Message, health.IsHealthy, health.Description));
        Assert.Equal(["customers"], Tables());
    }

    [Fact]
    public async Task A_database_from_before_listings_read_heads_only_lists_every_record_after_the_upgrade()
    {
        var large = RandomNumberGenerator.GetBytes(256 * 1024);
        Execute(
            """
            PRAGMA journal_mode = WAL;
            CREATE TABLE secrets (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, revision INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE revision_counter (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
            INSERT INTO revision_counter (id, value) VALUES (1, 7);
            INSERT INTO secrets (key, value, revision) VALUES ('old/large', $large, 3), ('old/small', x'6869', 7);
            PRAGMA user_version = 1;
            """,
            ("$large", large));
        var store = Open(DatabasePath);

        var page = await store.ListAsync("old/", startAfter: null, limit: 10);

        Assert.Equal(
            [("old/large", Convert.ToHexString(large[..StoreEntryHead.MaxLength]), 3L), ("old/small", "6869", 7L)],
            page.Entries.Select(e => (e.Key, Convert.ToHexString(e.Head.Span), e.Revision)));
        Assert.True(await store.CreateAsync("old/new", "v"u8.ToArray()) > 7);
    }

    [Fact]
    public async Task Writes_by_a_build_that_lists_whole_records_keep_listings_right()
    {
        var store = Open(DatabasePath);
        var kept = await store.CreateAsync("mixed/kept", "v1"u8.ToArray());
        await store.CreateAsync("mixed/deleted", "v"u8.ToArray());
        store.Dispose();

        // What an older build writes: the records table only, and its own schema version.
        Execute(
            """
            UPDATE secrets SET value = x'7632', revision = 100 WHERE key = 'mixed/kept';
            DELETE FROM secrets WHERE key = 'mixed/deleted';
            INSERT INTO secrets (key, value, revision) VALUES ('mixed/added', x'6e6577', 101);
            UPDATE revision_counter SET value = 101;
            PRAGMA user_version = 1;
            """);
        var reopened = Open(DatabasePath);

        var page = await reopened.ListAsync("mixed/", startAfter: null, limit: 10);

        Assert.True(kept < 100);
        Assert.Equal(
            [("mixed/added", "new", 101L), ("mixed/kept", "v2", 100L)],
            page.Entries.Select(e => (e.Key, System.Text.Encoding.UTF8.GetString(e.Head.Span), e.Revision)));
    }

    private List<string> Tables()
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False;Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name";
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private void Execute(string sql, params (string Name, object Value)[] parameters)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }

    /// <summary>How many of this process's file descriptors are open on <paramref name="path"/> (one for each SQLite connection open on it).</summary>
    private static int OpenDescriptorsOf(string path) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos().Count(descriptor =>
        {
            try
            {
                return descriptor.LinkTarget == path;
            }
            catch (IOException)
            {
                // Closed while listed.
                return false;
            }
        });

    private SqliteSecretStore Open(string path, TimeSpan? busyTimeout = null, TimeProvider? time = null)
    {
        var options = new SqliteStoreOptions { Path = path };
        options.BusyTimeout = busyTimeout ?? options.BusyTimeout;
        var store = new SqliteSecretStore(Options.Create(options), timeProvider: time);
        _opened.Add(store);
        return store;
    }
}
