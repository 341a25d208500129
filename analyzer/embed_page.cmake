# Turns the report's page into a C string at build time: cmake -DIN=page.html -DOUT=page.h -P
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE "${OUT}" "/* Generated from analyzer/report_page.html: do not edit. */\n"
     "static const char ms_report_page[] = {${body}0x00};\n")
