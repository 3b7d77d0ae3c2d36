// SPDX-License-Identifier: Apache-2.0

package gen

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// GoName turns a C identifier into an exported Go one: the parts between underscores
// (and dots, which clang puts in the names of static locals) each start with a capital
// letter and keep the rest as written, except that a part all in capitals is one word:
// my_pid becomes MyPid, rx_bytes_total RxBytesTotal, tcpState TcpState and STATE_IDLE
// StateIdle. A name that would start with a digit gets an
// X in front; a name with no letters or digits at all becomes X.
//
// The result is always an exported Go identifier of ASCII letters and digits, so never a
// keyword or a predeclared name, whatever c holds; the names gen takes from an object
// are also checked with checkCName first, so that a name no compiler writes is refused
// instead of mangled.
func GoName(c string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(c, func(r rune) bool {
		return r >= 0x80 || !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		// an all-capitals part (STATE_IDLE, TCP) is a word: StateIdle, Tcp
		if strings.ToUpper(part) == part {
			part = strings.ToLower(part)
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "X" + s
	}
	return s
}

// maxNameLen is the longest name the kernel accepts in BTF (KSYM_NAME_LEN, 512 since
// Linux 6.1). gen holds every name it takes from an object to it.
const maxNameLen = 512

// checkCName refuses a name from the object that is not a C identifier: ASCII letters,
// digits and underscores, not starting with a digit, and dots after the first character
// (clang's static locals, handle_tp.____fmt; the kernel's BTF check allows them too).
// what says where the name was found ("map", "member of struct event"). Such a name is
// refused rather than mangled: no compiler writes one, so the object was made by hand,
// and a newline or a quote in it must never reach the generated file.
func checkCName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s has an empty name", what)
	case len(name) > maxNameLen:
		return fmt.Errorf("%s name %s is %d bytes, longer than the kernel's limit of %d for a BTF name", what, quoteName(name), len(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '.') {
			continue
		}
		return fmt.Errorf("%s name %s is not a C identifier (byte %d is %q)", what, quoteName(name), i, c)
	}
	return nil
}

// checkSectionName refuses an ELF or DATASEC section name gen cannot write: an empty or
// over-long one. Any other bytes are allowed, as libbpf allows them
// (SEC("uprobe//usr/lib/libc.so.6:malloc")); they reach the generated file only through
// text and quote.
func checkSectionName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s has an empty name", what)
	case len(name) > maxNameLen:
		return fmt.Errorf("%s name %s is %d bytes, longer than the kernel's limit of %d for a BTF name", what, quoteName(name), len(name), maxNameLen)
	}
	return nil
}

// quoteName is a name from the object for an error message: quoted, ASCII, and cut to
// 64 bytes, so that no name can break a line or send escape sequences to a terminal.
func quoteName(s string) string {
	const show = 64
	if len(s) > show {
		return strconv.QuoteToASCII(s[:show]) + "…"
	}
	return strconv.QuoteToASCII(s)
}

// quote is a string from the object as a Go string literal: ASCII only, every control
// character, quote and backslash escaped.
func quote(s string) string {
	return strconv.QuoteToASCII(s)
}

// text is a string from the object as it may appear in a // comment of the generated
// file: as it is when it is made only of letters, digits, '_', '.' and '/' (every C
// identifier and the common section names), else as quoteComment writes it.
func text(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' {
			continue
		}
		return quoteComment(s)
	}
	return s
}

// quoteComment is a string from the object quoted for a comment: a Go string literal in
// ASCII, with "*/" written "*\x2f". No newline, control byte, non-ASCII byte or end of
// a block comment from the object reaches the file, whatever kind of comment it is in.
func quoteComment(s string) string {
	return strings.ReplaceAll(strconv.QuoteToASCII(s), "*/", `*\x2f`)
}

// printable is an error whose message is one line of printable text: the BTF reader and
// the ELF reader put names from the object into their errors as they are, and an
// escape sequence or a newline in one must not reach the user's terminal or log. Every
// control character, Unicode format character (bidirectional overrides) and invalid
// byte is written as a Go escape. It unwraps to the error it wraps.
type printable struct{ err error }

func (e printable) Error() string {
	msg := e.err.Error()
	var b strings.Builder
	for len(msg) > 0 {
		r, n := utf8.DecodeRuneInString(msg)
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, msg[0])
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r > 0xffff && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)):
			fmt.Fprintf(&b, `\U%08x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		msg = msg[n:]
	}
	return b.String()
}

func (e printable) Unwrap() error { return e.err }

// scope hands out unique Go names within one namespace (the package, or the fields and
// methods of one type). The first claim of a name gets it; later claims of the same name
// get _2, _3 … in the order they are made. A mangled name never contains an underscore,
// so a suffix always marks a rename.
type scope struct {
	taken map[string]bool
}

func newScope(reserved ...string) *scope {
	s := &scope{taken: map[string]bool{}}
	for _, r := range reserved {
		s.taken[r] = true
	}
	return s
}

// claim returns want, or want_N for the smallest N ≥ 2 not yet taken.
func (s *scope) claim(want string) string {
	if !s.taken[want] {
		s.taken[want] = true
		return want
	}
	for n := 2; ; n++ {
		cand := fmt.Sprintf("%s_%d", want, n)
		if !s.taken[cand] {
			s.taken[cand] = true
			return cand
		}
	}
}
