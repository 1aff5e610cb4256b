# readme_example.cmake - fails if README.md does not contain docs/examples/quickstart.c verbatim.
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md's example differs from ${EXAMPLE}: copy the file into it")
endif()
