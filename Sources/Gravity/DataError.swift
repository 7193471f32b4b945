/// A defect in a data file: exit code 2 with the file, row and column named.
public struct DataError: Error, CustomStringConvertible, Equatable {
    public let file: String
    /// 1-based line number in the file (the header is line 1); nil when the problem is the whole file.
    public let row: Int?
    /// Column name; nil when the problem is a whole row or file.
    public let column: String?
    public let problem: String

    public init(file: String, row: Int? = nil, column: String? = nil, problem: String) {
        self.file = file; self.row = row; self.column = column; self.problem = problem
    }

    public var description: String {
        var place = file
        if let row { place += ": row \(row)" }
        if let column { place += (row == nil ? ": " : ", ") + "column \(column)" }
        return "\(place): \(problem)"
    }
}
