/// Bad input: exit code 2 with one line naming the file, the key and the problem.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    /// Dotted TOML path (`model.gamma`), or empty when the problem is the file itself.
    public let key: String
    public let problem: String

    public init(file: String, key: String, problem: String) {
        self.file = file; self.key = key; self.problem = problem
    }

    /// One line: control characters from user input (a key or value with a newline) are escaped.
    public var description: String {
        escapedForOneLine(key.isEmpty ? "\(file): \(problem)" : "\(file): [\(key)] \(problem)")
    }
}

/// `text` with control characters (a newline in a file name or a value) written as escapes (`\n`), so that
/// a message stays one line for the user and for scripts that read the log line by line.
public func escapedForOneLine(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else { return text }
    return text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? $0.escaped(asASCII: true) : String($0) }.joined()
}
