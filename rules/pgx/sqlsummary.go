package pgx

import "strings"

// token is one lexical item of an SQL statement: a word (keyword or identifier, quoted
// identifiers keep their quotes off) or a single punctuation character.
type token struct {
	text   string
	word   bool
	quoted bool
	depth  int // parenthesis depth where it stands
}

// tokens reads at most max tokens of q, skipping blanks, comments and string literals.
func tokens(q string, max int) []token {
	var out []token
	depth := 0
	for i := 0; i < len(q) && len(out) < max; {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(q[i:], "--"):
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return out
			}
			i += j + 1
		case strings.HasPrefix(q[i:], "/*"):
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return out
			}
			i += j + 4
		case c == '\'':
			j := i + 1
			for j < len(q) {
				if q[j] == '\'' {
					if j+1 < len(q) && q[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			out = append(out, token{text: "'", depth: depth})
			i = j + 1
		case c == '"':
			j := strings.IndexByte(q[i+1:], '"')
			if j < 0 {
				return out
			}
			out = append(out, token{text: q[i+1 : i+1+j], word: true, quoted: true, depth: depth})
			i += j + 2
		case isWordStart(c):
			j := i
			for j < len(q) && isWordPart(q[j]) {
				j++
			}
			out = append(out, token{text: q[i:j], word: true, depth: depth})
			i = j
		default:
			if c == ')' && depth > 0 {
				depth--
			}
			out = append(out, token{text: q[i : i+1], depth: depth})
			if c == '(' {
				depth++
			}
			i++
		}
	}
	return out
}

func isWordStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isWordPart(c byte) bool { return isWordStart(c) || c >= '0' && c <= '9' || c == '$' }

func (t token) is(keyword string) bool {
	return t.word && !t.quoted && strings.EqualFold(t.text, keyword)
}

// summarize returns db.operation.name (the statement's first keyword, upper case) and
// db.collection.name (the one table a SELECT, INSERT, UPDATE, DELETE or COPY names; "" when it
// names none or several).
func summarize(q string) (operation, table string) {
	ts := tokens(q, 256)
	for len(ts) > 0 && (ts[0].text == "(" || ts[0].text == ";") {
		ts = ts[1:]
	}
	if len(ts) == 0 || !ts[0].word {
		return "", ""
	}
	operation = strings.ToUpper(ts[0].text)
	at := -1 // index of the table name's first token
	switch operation {
	case "SELECT":
		for i := 1; i < len(ts); i++ {
			if ts[i].depth == ts[0].depth && ts[i].is("from") {
				at = i + 1
				break
			}
		}
	case "INSERT":
		if len(ts) > 1 && ts[1].is("into") {
			at = 2
		}
	case "UPDATE", "COPY":
		at = 1
		if len(ts) > at && ts[at].is("only") {
			at++
		}
	case "DELETE":
		if len(ts) > 1 && ts[1].is("from") {
			at = 2
			if len(ts) > at && ts[at].is("only") {
				at++
			}
		}
	}
	if at < 0 || at >= len(ts) || !ts[at].word {
		return operation, ""
	}
	name, end := qualifiedName(ts, at)
	// a second table (a comma or a join at the same level) makes the statement's table unknown
	for i := end; i < len(ts); i++ {
		if ts[i].depth != ts[at].depth {
			continue
		}
		if ts[i].text == "," && operation == "SELECT" || ts[i].is("join") {
			return operation, ""
		}
		if ts[i].is("where") || ts[i].is("group") || ts[i].is("order") || ts[i].is("limit") ||
			ts[i].is("values") || ts[i].is("set") || ts[i].is("returning") {
			break
		}
	}
	return operation, name
}

// qualifiedName joins schema.table (each part a word) from ts[at]; end is the index after it.
func qualifiedName(ts []token, at int) (string, int) {
	parts := []string{ts[at].text}
	i := at + 1
	for i+1 < len(ts) && ts[i].text == "." && ts[i+1].word {
		parts = append(parts, ts[i+1].text)
		i += 2
	}
	return strings.Join(parts, "."), i
}
