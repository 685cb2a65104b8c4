using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.KeyRing;

/// <summary>The all-or-nothing writes that key rings, token files and contexts go through.</summary>
public sealed class OwnerOnlyFileTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_write_into_new_directories_creates_them_owner_only_and_the_file_with_mode_0600()
    {
        var path = _directory.Combine("a", "b", "file");

        Assert.True(OwnerOnlyFile.WriteAtomically(path, "contents"u8, overwrite: false));
        Assert.True(OwnerOnlyFile.WriteAtomically(path, "replaced"u8, overwrite: true));

        Assert.Equal("replaced", File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_directory.Combine("a", "b")));
        Assert.Equal(["file"], Directory.GetFileSystemEntries(_directory.Combine("a", "b")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_write_that_fails_leaves_no_temporary_file()
    {
        var target = Directory.CreateDirectory(_directory.Combine("occupied")).FullName;

        Assert.ThrowsAny<IOException>(() => OwnerOnlyFile.WriteAtomically(target, "key material"u8, overwrite: true));

        Assert.Equal([target], Directory.GetFileSystemEntries(_directory.Path));
    }

    [Fact]
    public void A_write_that_must_not_overwrite_keeps_the_existing_file_and_leaves_no_temporary_file()
    {
        var path = _directory.Combine("file");
        File.WriteAllText(path, "first");

        Assert.False(OwnerOnlyFile.WriteAtomically(path, "second"u8, overwrite: false));

        Assert.Equal("first", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFileSystemEntries(_directory.Path));
    }
}
