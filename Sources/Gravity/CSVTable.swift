import Foundation

/// A strictly validated numeric CSV file: a header of column names, then rows of numbers.
/// Every defect is a `DataError` naming the file, the line and the column.
public struct CSVTable {
    public let path: String
    public let columns: [String]
    /// Numeric cells, row-major; `rows[r][c]` is the value on line r + 2 of the file.
    public let rows: [[Double]]

    /// Read `path`, requiring exactly the `expected` columns (in order) and, if given, `rowCount` data rows.
    public init(path: String, expected: [String], rowCount: Int? = nil) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, problem: "cannot read the file (missing or unreadable)")
        }
        var lines = try textLines(data, path: path)
        while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
        guard let header = lines.first else { throw DataError(file: path, problem: "empty file") }
        let names = header.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: CharacterSet(charactersIn: " \"")) }
        guard names == expected else {
            throw DataError(file: path, row: 1, problem: "expected columns \(expected.joined(separator: ",")), found \(abbreviated(names.joined(separator: ",")))")
        }
        columns = names
        var parsed: [[Double]] = []
        for (index, line) in lines.dropFirst().enumerated() {
            let lineNumber = index + 2
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == names.count else {
                throw DataError(file: path, row: lineNumber, problem: "has \(cells.count) cells, expected \(names.count)")
            }
            parsed.append(try cells.enumerated().map { c, cell in
                let s = cell.trimmingCharacters(in: CharacterSet(charactersIn: " \""))
                guard let v = Double(s), v.isFinite else {
                    throw DataError(file: path, row: lineNumber, column: names[c], problem: "'\(abbreviated(s))' is not a finite number")
                }
                return v
            })
        }
        if let rowCount, parsed.count != rowCount {
            // Name the first missing line, or the first line too many.
            let line = min(parsed.count, rowCount) + 2
            throw DataError(file: path, row: line, column: names[0],
                            problem: parsed.count < rowCount ? "missing: the file has \(parsed.count) data rows, expected \(rowCount)"
                                                             : "one too many: expected \(rowCount) data rows, found \(parsed.count)")
        }
        rows = parsed
    }

    /// The lines of a text file: UTF-8 (a leading byte-order mark is dropped), LF or CRLF line ends. A NUL
    /// byte is an error (a binary file, or text cut short), not silently the end of the text.
    public static func lines(of data: Data, path: String) throws -> [Substring] { try textLines(data, path: path) }

    public func index(of column: String) -> Int { columns.firstIndex(of: column)! }

    /// The value at data row r (0-based) of `column`, required to be an integer in `range`.
    public func integer(_ r: Int, _ column: String, in range: ClosedRange<Int>) throws -> Int {
        let v = rows[r][index(of: column)]
        guard v == v.rounded(), let i = Int(exactly: v), range.contains(i) else {
            throw DataError(file: path, row: r + 2, column: column,
                            problem: "\(v) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return i
    }

    /// The value at data row r of a 0/1 dummy column.
    public func dummy(_ r: Int, _ column: String) throws -> Double {
        Double(try integer(r, column, in: 0...1))
    }
}

/// See `CSVTable.lines(of:path:)`. Lines are split on the byte `\n`, not on Swift's Characters (for which
/// "\r\n" is one Character, so a CRLF file would be a single line).
func textLines(_ data: Data, path: String) throws -> [Substring] {
    if let nul = data.firstIndex(of: 0) {
        let line = data[data.startIndex..<nul].reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
        throw DataError(file: path, row: line, problem: "contains a NUL byte (at byte \(nul - data.startIndex + 1)): not a text file")
    }
    guard var text = String(data: data, encoding: .utf8) else { throw DataError(file: path, problem: "not UTF-8 text") }
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
    return text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { scalars in
        var line = Substring(String(scalars))
        if line.hasSuffix("\r") { line = line.dropLast() }
        return line
    }
}

/// At most 80 characters of a value quoted in an error message.
func abbreviated(_ s: String) -> String { s.count <= 80 ? s : String(s.prefix(77)) + "..." }
