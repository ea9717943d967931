import Testing

@testable import LoyaliHooks

private func parseOne(_ text: String) throws -> YAMLNode {
    let documents = try YAMLDocument.parse(text, path: "p.yaml")
    try #require(documents.count == 1)
    return documents[0]
}

private func parseError(_ text: String) -> Diagnostic? {
    do {
        _ = try YAMLDocument.parse(text, path: "p.yaml")
        return nil
    } catch {
        return error
    }
}

/// `(line, column)` of a node, for compact assertions.
private func at(_ node: YAMLNode?) -> [Int]? {
    node.map { [$0.location.line, $0.location.column] }
}

@Suite struct YAMLStructureTests {
    @Test func blockMappingAndSequenceWithMarks() throws {
        let root = try parseOne(
            """
            name: sync
            sinks:
              - url: https://example.com/hook
                retries: 3
              - stdout
            """)
        #expect(at(root) == [1, 1])
        let pairs = try #require(root.mapping)
        #expect(pairs.map { $0.key.scalar } == ["name", "sinks"])
        #expect(at(pairs[0].key) == [1, 1])
        #expect(at(pairs[0].value) == [1, 7])
        #expect(pairs[0].value.scalar == "sync")
        let sinks = try #require(root.value(forKey: "sinks")?.sequence)
        #expect(sinks.count == 2)
        // A block sequence starts at its first `-`; a block mapping at its first key.
        #expect(at(root.value(forKey: "sinks")) == [3, 3])
        #expect(at(sinks[0]) == [3, 5])
        #expect(at(sinks[0].value(forKey: "retries")) == [4, 14])
        #expect(sinks[0].value(forKey: "url")?.scalar == "https://example.com/hook")
        #expect(at(sinks[1]) == [5, 5])
        #expect(sinks[1].scalar == "stdout")
    }

    @Test func flowSequenceItemColumns() throws {
        let root = try parseOne("route:\n  events: [a, \"b.*\",  'c' ]\n")
        let events = try #require(root.value(forKey: "route")?.value(forKey: "events"))
        #expect(at(events) == [2, 11])
        let items = try #require(events.sequence)
        #expect(items.map(\.scalar) == ["a", "b.*", "c"])
        #expect(items.map { at($0)! } == [[2, 12], [2, 15], [2, 23]])
        #expect(
            items.map(\.content) == [
                .scalar("a", .plain), .scalar("b.*", .doubleQuoted), .scalar("c", .singleQuoted),
            ])
    }

    @Test func flowMappingNestedInFlowSequence() throws {
        let root = try parseOne("{x: 1, y: [2, {z: w}]}")
        #expect(at(root) == [1, 1])
        #expect(at(root.value(forKey: "x")) == [1, 5])
        let y = try #require(root.value(forKey: "y")?.sequence)
        #expect(at(y[1]) == [1, 15])
        #expect(at(y[1].value(forKey: "z")) == [1, 19])
        #expect(y[1].value(forKey: "z")?.scalar == "w")
    }

    @Test func scalarStyles() throws {
        let root = try parseOne(
            """
            plain: hello world
            single: 'it''s'
            double: "tab\\there \\u00e9"
            literal: |
              line one
              line two
            folded: >
              one
              two
            empty:
            """)
        func content(_ key: String) -> YAMLNode.Content? { root.value(forKey: key)?.content }
        #expect(content("plain") == .scalar("hello world", .plain))
        #expect(content("single") == .scalar("it's", .singleQuoted))
        #expect(content("double") == .scalar("tab\there é", .doubleQuoted))
        #expect(content("literal") == .scalar("line one\nline two\n", .literal))
        #expect(content("folded") == .scalar("one two\n", .folded))
        #expect(content("empty") == .scalar("", .plain))
        // A block scalar's mark is its `|` indicator.
        #expect(at(root.value(forKey: "literal")) == [4, 10])
    }

    @Test func duplicateKeysAreKeptInOrderWithBothLocations() throws {
        let root = try parseOne("a: 1\nb: 2\na: 3\n")
        let pairs = try #require(root.mapping)
        #expect(pairs.map { $0.key.scalar! } == ["a", "b", "a"])
        #expect(pairs.map { $0.value.scalar! } == ["1", "2", "3"])
        #expect(at(pairs[0].key) == [1, 1])
        #expect(at(pairs[2].key) == [3, 1])
        // Lookup gives the first occurrence; the loader walks `mapping` to find the rest.
        #expect(root.value(forKey: "a")?.scalar == "1")
    }

    @Test func mergeKeyIsAnOrdinaryKey() throws {
        let root = try parseOne("base: &b {x: 1}\nchild:\n  <<: *b\n")
        let child = try #require(root.value(forKey: "child")?.mapping)
        #expect(child.count == 1)
        #expect(child[0].key.scalar == "<<")
        #expect(child[0].value.value(forKey: "x")?.scalar == "1")
    }

    @Test func tagsAreShownInShorthand() throws {
        let root = try parseOne(
            "a: !!str 12\nb: !custom x\nc: !!null ''\nd: \"null\"\ne: !!str ~\n")
        #expect(root.value(forKey: "a")?.tag == "!!str")
        #expect(root.value(forKey: "a")?.kindName == "string")
        #expect(at(root.value(forKey: "a")) == [1, 4])
        #expect(root.value(forKey: "b")?.tag == "!custom")
        #expect(root.value(forKey: "c")?.isNull == true)
        #expect(root.value(forKey: "d")?.isNull == false)
        #expect(root.value(forKey: "e")?.isNull == false)
        #expect(root.tag == nil)
    }

    @Test(arguments: [
        ("", "null"), ("~", "null"), ("null", "null"), ("Null", "null"), ("NULL", "null"),
        ("nULL", "string"), ("true", "boolean"), ("False", "boolean"), ("yes", "string"),
        ("12", "number"), ("-3.5", "number"), ("1e3", "number"), ("0x1F", "number"),
        (".inf", "number"), ("nan", "string"), ("infinity", "string"), ("12ab", "string"),
        ("'12'", "string"), ("[1]", "sequence"), ("{a: 1}", "mapping"),
    ])
    func kindNames(source: String, kind: String) throws {
        let root = try parseOne("v: \(source)")
        #expect(root.value(forKey: "v")?.kindName == kind)
    }
}

@Suite struct YAMLDocumentTests {
    @Test func multipleDocuments() throws {
        let documents = try YAMLDocument.parse("a: 1\n---\n- b\n---\n", path: "p.yaml")
        #expect(documents.count == 3)
        #expect(documents[0].value(forKey: "a")?.scalar == "1")
        #expect(documents[1].sequence?.first?.scalar == "b")
        #expect(at(documents[1]) == [3, 1])
        #expect(documents[2].isNull)
    }

    @Test(arguments: ["", "# only a comment\n", "\n\n"])
    func emptyStreamHasNoDocuments(text: String) throws {
        #expect(try YAMLDocument.parse(text, path: "p.yaml").isEmpty)
    }

    @Test func crlfLineEndings() throws {
        let root = try parseOne("a: 1\r\nb:\r\n  - x\r\n")
        #expect(at(root.value(forKey: "b")?.sequence?.first) == [3, 5])
    }

    @Test func unicodeValuesAndCharacterColumns() throws {
        // é is one scalar, the family emoji five (joined by U+200D), the decomposed é two;
        // each is one Character, so each moves later columns by one.
        let root = try parseOne("é: [\"👨‍👩‍👧\", e\u{301}, z]\n")
        let pair = try #require(root.mapping?.first)
        #expect(pair.key.scalar == "é")
        let items = try #require(pair.value.sequence)
        #expect(items.map(\.scalar) == ["👨‍👩‍👧", "e\u{301}", "z"])
        #expect(items.map { at($0)! } == [[1, 5], [1, 10], [1, 13]])
    }
}

@Suite struct YAMLAliasTests {
    @Test func aliasIsACopyOfTheAnchoredNode() throws {
        let root = try parseOne(
            """
            defaults: &d
              retries: 3
              timeout: 5s
            a: *d
            b: &s scalar
            c: [*s, *s]
            """)
        let defaults = try #require(root.value(forKey: "defaults"))
        #expect(root.value(forKey: "a") == defaults)
        #expect(
            root.value(forKey: "c")?.sequence == [
                root.value(forKey: "b")!, root.value(forKey: "b")!,
            ])
        // libyaml starts a node at its properties, so the copy points at `&d`.
        #expect(at(root.value(forKey: "a")) == [1, 11])
    }

    @Test func laterAnchorReplacesEarlierOne() throws {
        let root = try parseOne("- &x one\n- &x two\n- *x\n")
        #expect(root.sequence?.map(\.scalar) == ["one", "two", "two"])
    }

    @Test func unknownAliasIsReportedAtTheAlias() throws {
        let error = try #require(parseError("a: 1\nb: *missing\n"))
        #expect(error.location == SourceLocation(path: "p.yaml", line: 2, column: 4))
        #expect(error.message.contains("unknown alias '*missing'"))
        #expect(error.sourceLine == "b: *missing")
    }

    @Test func anchorsDoNotCrossDocuments() throws {
        let error = try #require(parseError("a: &x 1\n---\nb: *x\n"))
        #expect(error.location?.line == 3)
    }

    @Test func selfReferenceIsAnUnknownAlias() throws {
        let error = try #require(parseError("a: &x [1, *x]\n"))
        #expect(error.message.contains("unknown alias '*x'"))
    }

    @Test func billionLaughsIsCapped() throws {
        var text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for (name, previous) in zip("bcdefghi", "abcdefgh") {
            let refs = Array(repeating: "*\(previous)", count: 9).joined(separator: ", ")
            text += "\(name): &\(name) [\(refs)]\n"
        }
        let clock = ContinuousClock()
        var error: Diagnostic?
        let elapsed = clock.measure { error = parseError(text) }
        let diagnostic = try #require(error)
        #expect(
            diagnostic.message.hasPrefix(
                "document expands to more than \(YAMLDocument.maximumNodeCount) nodes"))
        #expect(diagnostic.location?.line == 6)
        #expect(diagnostic.message.hasSuffix("are aliases nested too deeply?"))
        #expect(elapsed < .seconds(2))
    }

    @Test func hugeDocumentWithoutAliasesIsCappedToo() throws {
        let text =
            "[" + Array(repeating: "x", count: YAMLDocument.maximumNodeCount).joined(separator: ",")
            + "]"
        let error = try #require(parseError(text))
        #expect(
            error.message == "document expands to more than \(YAMLDocument.maximumNodeCount) nodes")
    }

    @Test func largeDocumentBelowTheCapIsAccepted() throws {
        let text = (0..<1000).map { "k\($0): [a, b, c]" }.joined(separator: "\n")
        let root = try parseOne(text)
        #expect(root.mapping?.count == 1000)
    }

    @Test func deepNestingIsRejected() throws {
        let depth = YAMLDocument.maximumDepth + 1
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let error = try #require(parseError(text))
        #expect(
            error.message == "collections are nested more than \(YAMLDocument.maximumDepth) deep")
        #expect(error.location?.column == depth)
        let ok = YAMLDocument.maximumDepth
        _ = try parseOne(String(repeating: "[", count: ok) + String(repeating: "]", count: ok))
    }
}

@Suite struct YAMLSyntaxErrorTests {
    @Test func badIndentation() throws {
        let error = try #require(parseError("name: sync\nsinks:\n  - a\n   b: 1\n"))
        #expect(error.location == SourceLocation(path: "p.yaml", line: 4, column: 5))
        #expect(error.message == "mapping values are not allowed in this context")
        #expect(
            error.description == """
                p.yaml:4:5: error: mapping values are not allowed in this context
                     b: 1
                      ^
                """)
    }

    @Test func wrongIndentationForBlockMapping() throws {
        let error = try #require(parseError("a:\n    b: 1\n  c: 2\n"))
        #expect(error.location == SourceLocation(path: "p.yaml", line: 3, column: 3))
        #expect(
            error.message
                == "did not find expected key while parsing a block mapping that started at line 1, column 1"
        )
        #expect(error.sourceLine == "  c: 2")
    }

    @Test func unclosedQuote() throws {
        let error = try #require(parseError("a: 1\nname: \"unclosed\nnext: 2\n"))
        #expect(error.location == SourceLocation(path: "p.yaml", line: 4, column: 1))
        #expect(
            error.message
                == "found unexpected end of stream while scanning a quoted scalar that started at line 2, column 7"
        )
        // The end of the stream has no line of its own to quote.
        #expect(error.sourceLine == nil)
        #expect(error.description == error.headline)
    }

    @Test func unclosedFlowSequence() throws {
        let error = try #require(parseError("events: [a, b\n"))
        #expect(error.location?.line == 2)
        #expect(
            error.message.contains("while parsing a flow sequence that started at line 1, column 9")
        )
    }

    @Test func tabIndentation() throws {
        let error = try #require(parseError("route:\n\tevents: [a]\n"))
        #expect(error.location == SourceLocation(path: "p.yaml", line: 2, column: 1))
        #expect(error.message.hasSuffix("(tabs cannot indent YAML; use spaces)"))
        // Tabs are drawn as one space so the caret still lines up.
        #expect(error.description.hasSuffix("\n   events: [a]\n  ^"))
    }

    @Test func errorColumnCountsCharactersNotBytes() throws {
        // "é🎉: " is 4 characters but 8 bytes; the offending ':' is character 6.
        let error = try #require(parseError("é🎉: x: y\n"))
        #expect(error.location == SourceLocation(path: "p.yaml", line: 1, column: 6))
        #expect(error.description.hasSuffix("\n  é🎉: x: y\n       ^"))
        // A decomposed é is two scalars (libyaml's count) but one character.
        let decomposed = try #require(parseError("e\u{301}e\u{301}: x: y\n"))
        #expect(decomposed.location?.column == 6)
    }

    @Test func aByteOrderMarkOpeningTheFileIsAccepted() throws {
        let root = try parseOne("\u{FEFF}name: sync\nsinks: { out: x }\n")
        #expect(root.value(forKey: "name")?.scalar == "sync")
        #expect(at(root.key(named: "sinks")) == [2, 1])
        #expect(at(root.key(named: "name")) == [1, 1])
        // Errors in such a file keep their real line and column.
        let error = try #require(parseError("\u{FEFF}a: 1\nb: *missing\n"))
        #expect(error.location == SourceLocation(path: "p.yaml", line: 2, column: 4))
        // And the loader takes a whole pipeline file saved with one.
        let (loaded, diagnostics) = PipelineLoader(environment: [:]).load(
            file: "p.yaml", text: "\u{FEFF}pipeline: bom\nsource: { type: stdin }\nsinks: { out: { type: stdout } }\n")
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(loaded?.0.name == "bom")
    }

    @Test func controlCharacterIsReportedWhereItIs() throws {
        let error = try #require(parseError("a: 1\nbé: \u{1}\n"))
        #expect(error.location == SourceLocation(path: "p.yaml", line: 2, column: 5))
        #expect(error.message == "control characters are not allowed (U+0001)")
    }
}

@Suite struct SourceTextTests {
    @Test func splitsLinesLikeLibyaml() {
        let text = SourceText("\u{FEFF}one\r\ntwo\rthree\nfour\u{2028}five\n")
        #expect(text.lineCount == 5)
        #expect((1...5).map { text.line($0) } == ["one", "two", "three", "four", "five"])
        #expect(text.line(0) == nil)
        #expect(text.line(6) == nil)
    }

    @Test func lastLineWithoutNewlineAndEmptyLines() {
        let text = SourceText("a\n\nb")
        #expect(text.lineCount == 3)
        #expect(text.line(2) == "")
        #expect(text.line(3) == "b")
        #expect(SourceText("").lineCount == 0)
    }

    @Test func characterColumn() {
        let text = SourceText("e\u{301}👍🏽x")
        // Scalars: e, U+0301, 👍, U+1F3FD, x; characters: é, 👍🏽, x.
        #expect(text.characterColumn(line: 1, scalarColumn: 5) == 3)
        #expect(text.characterColumn(line: 1, scalarColumn: 6) == 4)
        #expect(text.characterColumn(line: 1, scalarColumn: 8) == 6)
        #expect(text.characterColumn(line: 2, scalarColumn: 4) == 4)
    }

    @Test func characterColumnMidClusterAndOnASCIILines() {
        let text = SourceText("ab\ne\u{301}\u{302}z\né")
        #expect(text.characterColumn(line: 1, scalarColumn: 2) == 2)
        // Scalars e, U+0301, U+0302, z make the characters e\u{301}\u{302} and z: z is character 2,
        // and so are the columns of the two accents, counted as the characters before them + 1.
        #expect(text.characterColumn(line: 2, scalarColumn: 2) == 2)
        #expect(text.characterColumn(line: 2, scalarColumn: 3) == 2)
        #expect(text.characterColumn(line: 2, scalarColumn: 4) == 2)
        #expect(text.characterColumn(line: 2, scalarColumn: 5) == 3)
        // A precomposed é is one scalar: nothing to convert.
        #expect(text.characterColumn(line: 3, scalarColumn: 2) == 2)
        #expect(text.characterColumn(line: 9, scalarColumn: 7) == 7)
    }

    /// Every node on a long non-ASCII line used to convert its column by rescanning the line from
    /// its start: a one-line flow mapping of 8,000 accented values did not validate within a
    /// minute. The bound only makes the old behaviour fail instead of hanging.
    @Test func manyNodesOnOneLongNonASCIILineParseInLinearTime() throws {
        let entries = (0..<40_000).map { "k\($0): cafe\u{301}" }.joined(separator: ", ")
        let started = ContinuousClock.now
        let text = SourceText("{\(entries), last: [}")
        var low = 1
        for column in stride(from: 2, through: 1_000_000, by: 7) {
            let converted = text.characterColumn(line: 1, scalarColumn: column)
            #expect(converted <= column && converted >= low, "column \(column)")
            low = converted
        }
        #expect(ContinuousClock.now - started < .seconds(20))
        // Each entry before the last holds one combining accent: columns past them shift by one each.
        let last = "{\(entries), last: [}".unicodeScalars.count
        #expect(text.characterColumn(line: 1, scalarColumn: last) == last - 40_000)
    }
}
