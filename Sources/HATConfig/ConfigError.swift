/// Bad input: exit code 2 with one line naming the file, the key and the problem.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let file: String
    /// Dotted TOML path (`model.gamma`), or empty when the problem is the file itself.
    public let key: String
    public let problem: String

    public init(file: String, key: String, problem: String) {
        self.file = file; self.key = key; self.problem = problem
    }

    public var description: String {
        key.isEmpty ? "\(file): \(problem)" : "\(file): [\(key)] \(problem)"
    }
}
