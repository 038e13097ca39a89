#!/usr/bin/env python3
# Generates src/sizeclasses.c: run from the repository root.
PAGE=8192
sizes=[8]+list(range(16,257,16))
s=256
while s<32768:
    step=(1<<(s.bit_length()-1))//8
    s+=step
    sizes.append(s)
cls=[]
for sz in sizes:
    for n in range(1,11):
        span=n*PAGE
        if span%sz <= span//8:
            break
    cls.append([sz,n,span//sz])
out=[c for i,c in enumerate(cls) if not (i+1<len(cls) and cls[i+1][1]==c[1] and cls[i+1][2]==c[2])]
out=[[0,0,0]]+out
N=len(out)
assert N==58
div=[0]+[(0xffffffff//c[0])+1 for c in out[1:]]
for i in range(1,N):
    sz,n,ne=out[i]
    for off in range(0,n*PAGE):
        if (off*div[i])>>32 != off//sz:
            raise SystemExit("divmul fails class %d size %d off %d"%(i,sz,off))
def cl(size):
    for i in range(1,N):
        if out[i][0]>=size: return i
c8=[cl(max(1,(j<<3))) if j>0 else 1 for j in range(129)]
c128=[cl(1024+j*128) for j in range(249)]
def arr(name,typ,vals):
    s="INTERNAL const %s %s[%d] = {\n"%(typ,name,len(vals))
    line="   "
    for v in vals:
        t=" %d,"%v
        if len(line)+len(t)>98:
            s+=line+"\n"; line="   "
        line+=t
    s+=line+"\n};\n\n"
    return s
src='''/*
 * sizeclasses.c - the size classes: which object sizes exist and how many pages
 * a span of each class takes.
 *
 * tools/mksizeclasses.py generated the tables by this rule:
 *   - class 1 holds objects of 1..8 bytes, aligned to 8;
 *   - then every multiple of 16 up to 256 bytes, so that every object of 16 bytes
 *     or more is 16-byte aligned (C's max_align_t);
 *   - above 256 bytes, eight classes per doubling (steps of 1/8 of the lower
 *     power of two), up to 32 KiB;
 *   - each class takes the fewest 8 KiB pages (at most 10) that waste at most
 *     1/8 of the span in the tail;
 *   - of two neighbouring classes with the same pages and object count, only the
 *     larger is kept.
 * class_divmul[c] = 2^32 / size + 1 makes (offset * divmul) >> 32 equal
 * offset / size for every offset inside a span of the class; the generator
 * checked every offset.  Class 0 stands for large objects (one per span).
 */
#include "internal.h"

'''
src+=arr("class_size","uint16_t",[c[0] for c in out])
src+=arr("class_npages","uint8_t",[c[1] for c in out])
src+=arr("class_nelems","uint16_t",[c[2] for c in out])
src+=arr("class_divmul","uint32_t",div)
src+="/* size_to_class8[(size + 7) / 8] for size <= 1024. */\n"+arr("size_to_class8","uint8_t",c8)
src+="/* size_to_class128[(size - 1024 + 127) / 128] for 1024 < size <= 32768. */\n"+arr("size_to_class128","uint8_t",c128)
open("src/sizeclasses.c","w").write(src.rstrip()+"\n")
print("ok")
