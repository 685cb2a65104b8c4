using System.Text.RegularExpressions;

namespace Trousseau.Tests.Unit.Secrets;

/// <summary>The secret name rule, as <see cref="SecretNames"/> and its published pattern state it.</summary>
public sealed class SecretNamesTests
{
    public static TheoryData<string> RefusedNames => new()
    {
        "tmp/../prod/db",
        "a/./b",
        "a/../../b",
        "a//b",
        "a/b//c",
        "/a",
        "a/",
        "Upper",
        "a b",
        "a%2fb",
        "ends-with-dot.",
    };

    public static TheoryData<string> AcceptedNames => new()
    {
        "prod/db",
        "a",
        "a/.b",
        "a/..b/c",
        "a/b..c",
        "a/.../b",
        "v1.2/x_y-z",
    };

    [Theory]
    [MemberData(nameof(RefusedNames))]
    public void Names_with_dot_segments_empty_segments_or_outer_slashes_are_refused(string name)
    {
        Assert.False(SecretNames.IsValid(name));
        Assert.DoesNotMatch(SecretNames.Pattern, name);
        var error = Assert.Throws<InvalidInputException>(() => SecretNames.Validate(name));
        Assert.Equal("name", error.Field);
    }

    [Theory]
    [MemberData(nameof(AcceptedNames))]
    public void Names_whose_dots_are_part_of_a_segment_are_accepted(string name)
    {
        Assert.True(SecretNames.IsValid(name));
        Assert.Matches(SecretNames.Pattern, name);
    }

    [Theory]
    [InlineData("tmp/../")]
    [InlineData("tmp/./")]
    [InlineData("tmp//")]
    public void A_prefix_that_no_valid_name_can_start_with_is_refused(string prefix) => Assert.False(SecretNames.IsValidPrefix(prefix));

    [Theory]
    [InlineData("")]
    [InlineData("tmp/")]
    [InlineData("tmp/.")]
    [InlineData("tmp/..")]
    [InlineData("tmp/..b")]
    public void A_prefix_of_some_valid_name_is_accepted(string prefix) => Assert.True(SecretNames.IsValidPrefix(prefix));

    [Fact]
    public void The_pattern_is_a_valid_regular_expression_bounded_to_253_characters()
    {
        Assert.Matches(new Regex(SecretNames.Pattern), new string('a', 253));
        Assert.DoesNotMatch(new Regex(SecretNames.Pattern), new string('a', 254));
    }
}
