//! The naming-convention pattern language (no regex): a pattern is matched against the whole
//! name, case-sensitively.
//!
//! | token       | matches                                                   |
//! |-------------|-----------------------------------------------------------|
//! | `*`         | any run of characters, possibly empty                     |
//! | `?`         | exactly one character                                     |
//! | `{}` `{Label}` | one or more characters (the label only documents)      |
//! | `{A\|B\|C}` | exactly one of the alternatives                           |
//! | `\x`        | the character `x` literally (`\*`, `\{`, `\\`)            |
//! | anything else | itself                                                  |
//!
//! Example: `{WIN|MAC|IOS|AND} - {Area} - *` accepts `WIN - Defender AV - SC 01`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(char),
    Star,
    One,
    Some,
    Alt(Vec<Vec<char>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    Empty,
    UnclosedBrace,
    StrayCloseBrace,
    TrailingBackslash,
    EmptyAlternative,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PatternError::Empty => "must not be empty",
            PatternError::UnclosedBrace => "a `{` is not closed",
            PatternError::StrayCloseBrace => "a `}` has no `{` (escape it as `\\}`)",
            PatternError::TrailingBackslash => "ends with a lone `\\`",
            PatternError::EmptyAlternative => "an alternative in `{a|b}` is empty",
        })
    }
}

impl NamePattern {
    pub fn parse(s: &str) -> Result<NamePattern, PatternError> {
        if s.trim().is_empty() {
            return Err(PatternError::Empty);
        }
        let mut tokens = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::One),
                '\\' => tokens.push(Token::Lit(chars.next().ok_or(PatternError::TrailingBackslash)?)),
                '}' => return Err(PatternError::StrayCloseBrace),
                '{' => {
                    let mut alts = vec![Vec::new()];
                    let mut closed = false;
                    while let Some(c) = chars.next() {
                        match c {
                            '}' => {
                                closed = true;
                                break;
                            }
                            '|' => alts.push(Vec::new()),
                            '\\' => {
                                let e = chars.next().ok_or(PatternError::TrailingBackslash)?;
                                alts.last_mut().expect("one alternative").push(e);
                            }
                            c => alts.last_mut().expect("one alternative").push(c),
                        }
                    }
                    if !closed {
                        return Err(PatternError::UnclosedBrace);
                    }
                    if alts.len() == 1 {
                        tokens.push(Token::Some);
                    } else if alts.iter().any(Vec::is_empty) {
                        return Err(PatternError::EmptyAlternative);
                    } else {
                        tokens.push(Token::Alt(alts));
                    }
                }
                c => tokens.push(Token::Lit(c)),
            }
        }
        Ok(NamePattern { tokens })
    }

    /// Whether the whole `name` matches (memoised backtracking: O(tokens × chars × alternatives)).
    pub fn matches(&self, name: &str) -> bool {
        let s: Vec<char> = name.chars().collect();
        let mut memo = vec![None; (self.tokens.len() + 1) * (s.len() + 1)];
        self.at(0, 0, &s, &mut memo)
    }

    fn at(&self, t: usize, i: usize, s: &[char], memo: &mut Vec<Option<bool>>) -> bool {
        let key = t * (s.len() + 1) + i;
        if let Some(v) = memo[key] {
            return v;
        }
        let v = match self.tokens.get(t) {
            None => i == s.len(),
            Some(Token::Lit(c)) => s.get(i) == Some(c) && self.at(t + 1, i + 1, s, memo),
            Some(Token::One) => i < s.len() && self.at(t + 1, i + 1, s, memo),
            Some(Token::Star) => (i..=s.len()).any(|j| self.at(t + 1, j, s, memo)),
            Some(Token::Some) => (i + 1..=s.len()).any(|j| self.at(t + 1, j, s, memo)),
            Some(Token::Alt(alts)) => alts
                .iter()
                .any(|a| s[i..].starts_with(a) && self.at(t + 1, i + a.len(), s, memo)),
        };
        memo[key] = Some(v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_pattern_language() {
        let p = NamePattern::parse("{WIN|MAC|IOS|AND} - {Area} - *").unwrap();
        assert!(p.matches("WIN - Defender AV - SC 01"));
        assert!(p.matches("MAC - Wi-Fi - "));
        assert!(!p.matches("LNX - Wi-Fi - x"));
        assert!(p.matches("WIN -   - x")); // `{Area}` may be a space
        assert!(!p.matches("WIN -  - x")); // but not empty
        assert!(!p.matches("WIN - - x"));
        let q = NamePattern::parse(r"CORP\*?").unwrap();
        assert!(q.matches("CORP*1"));
        assert!(!q.matches("CORPx1"));
        assert!(!q.matches("CORP*"));
        assert_eq!(NamePattern::parse(""), Err(PatternError::Empty));
        assert_eq!(NamePattern::parse("{a|b"), Err(PatternError::UnclosedBrace));
        assert_eq!(NamePattern::parse("a}"), Err(PatternError::StrayCloseBrace));
        assert_eq!(NamePattern::parse("a\\"), Err(PatternError::TrailingBackslash));
        assert_eq!(NamePattern::parse("{a||b}"), Err(PatternError::EmptyAlternative));
    }
}
