import Testing

@testable import DaemonConfig

@Suite struct TOMLParserTests {
    @Test func scalarsOfEveryKind() throws {
        let table = try TOMLParser.parse(
            """
            # comment
            s = "a\\tb\\u00e9\\"q\\""   # trailing comment
            lit = 'C:\\path'
            int = 1_000
            neg = -17
            hex = 0xff
            oct = 0o17
            bin = 0b101
            float = 3.5e2
            inf = -inf
            t = true
            f = false
            date = 1979-05-27T07:32:00Z
            spaced = 1979-05-27 07:32:00
            """
        )
        #expect(table["s"] == .string("a\tbé\"q\""))
        #expect(table["lit"] == .string("C:\\path"))
        #expect(table["int"] == .integer(1000))
        #expect(table["neg"] == .integer(-17))
        #expect(table["hex"] == .integer(255))
        #expect(table["oct"] == .integer(15))
        #expect(table["bin"] == .integer(5))
        #expect(table["float"] == .float(350))
        #expect(table["inf"] == .float(-.infinity))
        #expect(table["t"] == .boolean(true))
        #expect(table["f"] == .boolean(false))
        #expect(table["date"] == .dateTime("1979-05-27T07:32:00Z"))
        #expect(table["spaced"] == .dateTime("1979-05-27 07:32:00"))
    }

    @Test func multilineStrings() throws {
        let table = try TOMLParser.parse("a = \"\"\"\none\\\n    two\"\"\"\nb = '''\nraw \\n''''\n")
        #expect(table["a"] == .string("onetwo"))
        #expect(table["b"] == .string("raw \\n'"))
    }

    @Test func arraysInlineTablesAndDottedKeys() throws {
        let table = try TOMLParser.parse(
            """
            list = [
              "a", # first
              "b",
            ]
            point = { x = 1, y.z = 2 }
            a.b.c = "deep"
            """
        )
        #expect(table["list"] == .array([.string("a"), .string("b")]))
        guard case .table(let point) = table["point"], case .table(let y) = point["y"] else {
            Issue.record("inline table missing")
            return
        }
        #expect(point["x"] == .integer(1))
        #expect(y["z"] == .integer(2))
        guard case .table(let a) = table["a"], case .table(let b) = a["b"] else {
            Issue.record("dotted keys")
            return
        }
        #expect(b["c"] == .string("deep"))
    }

    @Test func tablesArraysOfTablesAndLines() throws {
        let table = try TOMLParser.parse(
            """
            top = 1

            [server]
            port = 80
            [server.tls]
            on = true

            [[hosts]]
            name = "a"
            [[hosts]]
            name = "b"
            """
        )
        guard case .table(let server) = table["server"], case .table(let tls) = server["tls"] else {
            Issue.record("tables")
            return
        }
        #expect(server.entry("port")?.line == 4)
        #expect(server.line == 3)
        #expect(tls["on"] == .boolean(true))
        guard case .array(let hosts) = table["hosts"], hosts.count == 2, case .table(let second) = hosts[1] else {
            Issue.record("array of tables")
            return
        }
        #expect(second["name"] == .string("b"))
        #expect(second.entry("name")?.line == 11)
    }

    @Test(arguments: [
        ("a = 1\na = 2", 2, "defined twice"),
        ("[t]\nx = 1\n[t]\n", 3, "defined twice"),
        ("a = \"unterminated", 1, "unterminated"),
        ("a = 1 b = 2", 1, "end of the line"),
        ("a = 01", 1, "not a valid TOML value"),
        ("a = 1__0", 1, "not a valid TOML value"),
        ("x = { a = 1 }\n[x]\n", 2, "defined twice"),
        ("x = 1\nx.y = 2", 2, "integer, not a table"),
        ("a = [1, 2", 1, "expected"),
        ("\n\n = 3", 3, "expected a key"),
        ("a = \"\\q\"", 1, "invalid escape"),
    ])
    func syntaxErrorsNameTheLine(source: String, line: Int, reason: String) {
        #expect {
            try TOMLParser.parse(source)
        } throws: { error in
            guard let error = error as? TOMLSyntaxError else { return false }
            return error.line == line && error.reason.contains(reason)
        }
    }

    @Test func renderedValuesParseBack() throws {
        let values: [TOMLValue] = [
            .string("q\"uo\\te\n\u{01}"), .integer(-5), .boolean(true), .array([.string("x"), .integer(2)]),
        ]
        for value in values {
            let table = try TOMLParser.parse("v = \(value.tomlText)")
            #expect(table["v"] == value)
        }
    }
}
