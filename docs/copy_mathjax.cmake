# copy_mathjax.cmake - copies Debian's MathJax next to the pages, so formulas render offline.
# -DSRC=<mathjax dir> -DDST=<html>/mathjax. The unpacked sources and the test pages are left
# out (half the size); unchanged files are skipped on a rebuild.
if(NOT EXISTS ${SRC}/MathJax.js)
  message(FATAL_ERROR "no MathJax.js in ${SRC}: install libjs-mathjax or set BPQ_MATHJAX_DIR")
endif()
file(MAKE_DIRECTORY ${DST})
file(COPY ${SRC}/ DESTINATION ${DST} PATTERN unpacked EXCLUDE PATTERN test EXCLUDE)
