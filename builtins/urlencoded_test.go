package builtins_test

import (
	"strings"
	"testing"
)

func TestURLEncodedTwilio(t *testing.T) {
	body := strings.TrimRight(codecTestdata(t, false, "urlencoded", "twilio_sms.txt"), "\r\n")
	src := `
local form, err = urlencoded.decode(r.RequestBody)
if err then error(err) end
print(form.From, form.To, form.NumMedia, form.ToCity)
print(form.Body)
print(form.MediaUrl0)
print(form.MediaContentType0)
local n = 0
for _ in pairs(form) do n = n + 1 end
print(n)
-- re-encoding is canonical: sorted keys, so decoding it again gives the same table
local again = assert(urlencoded.decode(urlencoded.encode(form)))
for k, v in pairs(form) do assert(again[k] == v, k) end
print(urlencoded.encode({From = form.From, Body = form.Body}))
`
	res := codecRun(t, src, body)
	want := []string{
		"+14155552671\t+15558675309\t1\tSAN FRANCISCO",
		"Hello from Twilio! 👋 50% off? a&b=c",
		"https://api.twilio.com/2010-04-01/Accounts/AC1234567890abcdef1234567890abcdef/Messages/MM1234567890abcdef1234567890abcdef/Media/ME1234567890abcdef1234567890abcdef",
		"image/jpeg",
		"21",
		"Body=Hello+from+Twilio%21+%F0%9F%91%8B+50%25+off%3F+a%26b%3Dc&From=%2B14155552671",
	}
	if strings.Join(res.Logs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(res.Logs, "\n"), strings.Join(want, "\n"))
	}
}

func TestURLEncodedDecode(t *testing.T) {
	cases := []struct{ in, src, want string }{
		{"a=1&b=2", `print(f.a, f.b)`, "1\t2"},
		// repeated keys become an array, in order
		{"tag=x&id=7&tag=y&tag=z", `print(type(f.tag), #f.tag, f.tag[1], f.tag[2], f.tag[3], f.id)`, "table\t3\tx\ty\tz\t7"},
		{"q=a+b%2Bc&empty=&flag", `print("[" .. f.q .. "]", "[" .. f.empty .. "]", "[" .. f.flag .. "]")`, "[a b+c]\t[]\t[]"},
		{"", `print(next(f))`, "nil"},
		{"k%5B%5D=1&k%5B%5D=2", `print(f["k[]"][1], f["k[]"][2])`, "1\t2"},
		{"x=%E2%82%AC", `print(f.x, #f.x)`, "€\t3"},
	}
	for _, c := range cases {
		src := `local f, err = urlencoded.decode(` + codecQuote(c.in) + `)
assert(err == nil, err)
` + c.src
		codecExpect(t, src, c.want)
	}
}

func TestURLEncodedEncode(t *testing.T) {
	cases := []struct{ src, want string }{
		{`print(urlencoded.encode({b = "2", a = "1", c = "3"}))`, "a=1&b=2&c=3"},
		{`print(urlencoded.encode({tag = {"x", "y"}, id = 7}))`, "id=7&tag=x&tag=y"},
		{`print(urlencoded.encode({text = "hello world & more", sym = "+/=?#"}))`, "sym=%2B%2F%3D%3F%23&text=hello+world+%26+more"},
		{`print(urlencoded.encode({yes = true, no = false, pi = 3.5}))`, "no=false&pi=3.5&yes=true"},
		{`print(urlencoded.encode({}))`, ""},
		{`print(urlencoded.encode({none = {}}))`, ""},
		{`print(urlencoded.encode({[1] = "one"}))`, "1=one"},
		{`print(urlencoded.encode({["a b"] = "€"}))`, "a+b=%E2%82%AC"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}

func TestURLEncodedErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`print(urlencoded.decode("a=%zz"))`, `nil	urlencoded.decode: invalid URL escape "%zz"`},
		{`print(urlencoded.decode("a=1;b=2"))`, "nil\turlencoded.decode: invalid semicolon separator in query"},
		{`print(urlencoded.decode(nil))`, "nil\turlencoded.decode: argument #1 (data) must be a string, got nil"},
		{`print(urlencoded.encode(nil))`, "nil\turlencoded.encode: argument #1 must be a table, got nil"},
		{`print(urlencoded.encode("a=1"))`, "nil\turlencoded.encode: argument #1 must be a table, got string"},
		{`print(urlencoded.encode({f = print}))`, `nil	urlencoded.encode: value of "f" is a function, not a string`},
		{`print(urlencoded.encode({t = {x = 1}}))`, `nil	urlencoded.encode: value of "t" is a table that is not an array`},
		{`print(urlencoded.encode({t = {"a", {}}}))`, `nil	urlencoded.encode: value 2 of "t" is a table, not a string`},
		{`print(urlencoded.encode({[true] = "x"}))`, "nil\turlencoded.encode: key true is a boolean, not a string"},
	}
	for _, c := range cases {
		codecExpect(t, c.src, c.want)
	}
}
